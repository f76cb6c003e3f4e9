/**
 * The partition layout of a Sprout disk image and the bytes GRUB's BIOS boot path needs,
 * computed and patched in user space: the machines that build images may have a kernel
 * without partition-table, FAT or device-mapper support (no `losetup -P`, no mounting
 * the ESP, no `grub-install`), so partitions, filesystems and boot code are written into
 * the image file at their offsets.
 *
 * Layout (GPT, 512-byte sectors, MiB-aligned):
 *   1  BIOS boot  1 MiB   GRUB's i386-pc core.img (boot.img in the MBR points at it)
 *   2  ESP       62 MiB   FAT, /EFI/BOOT/BOOTX64.EFI (GRUB x86_64-efi)
 *   3  root       rest    ext4; last, so cloud-init's growpart can grow it to the disk
 */

export const SECTOR = 512;
const MiB = 1024 * 1024;
const sectorsPerMiB = MiB / SECTOR;

/** GPT partition type GUIDs. */
export const partitionTypes = {
  biosBoot: '21686148-6449-6E6F-744E-656564454649',
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  /** "Linux root (x86-64)" of the Discoverable Partitions Specification. */
  rootX86_64: '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709',
};

export interface Partition {
  name: string;
  type: string;
  /** First sector. */
  start: number;
  /** Sectors. */
  size: number;
}

export interface DiskLayout {
  /** The whole image, bytes (a MiB multiple, with room for the backup GPT). */
  bytes: number;
  biosBoot: Partition;
  esp: Partition;
  root: Partition;
}

export function diskLayout(rootMiB: number, espMiB = 62): DiskLayout {
  if (!Number.isInteger(rootMiB) || rootMiB < 64) throw new Error(`root partition must be a whole number of MiB, at least 64 (got ${rootMiB})`);
  const biosBoot = { name: 'bios', type: partitionTypes.biosBoot, start: sectorsPerMiB, size: sectorsPerMiB };
  const esp = { name: 'esp', type: partitionTypes.esp, start: biosBoot.start + biosBoot.size, size: espMiB * sectorsPerMiB };
  const root = { name: 'root', type: partitionTypes.rootX86_64, start: esp.start + esp.size, size: rootMiB * sectorsPerMiB };
  // One MiB after the root partition holds the backup GPT (33 sectors) and keeps the size aligned.
  return { bytes: (root.start + root.size) * SECTOR + MiB, biosBoot, esp, root };
}

/** The sfdisk script that writes this layout's GPT (and protective MBR) into an image file. */
export function sfdiskScript(layout: DiskLayout): string {
  const line = (p: Partition) => `start=${p.start}, size=${p.size}, type=${p.type}, name="${p.name}"`;
  return ['label: gpt', 'unit: sectors', 'first-lba: 2048', line(layout.biosBoot), line(layout.esp), line(layout.root), ''].join('\n');
}

/** Where boot.img keeps the LBA of core.img's first sector (GRUB_BOOT_MACHINE_KERNEL_SECTOR). */
const BOOT_KERNEL_SECTOR = 0x5c;
/** boot.img's code ends where the MBR's disk signature begins; the partition table after it stays. */
const BOOT_CODE_BYTES = 440;
/** diskboot.img (core.img's first sector) ends with its blocklist: start LBA (8), sectors (2), segment (2). */
const DISKBOOT_BLOCKLIST = SECTOR - 12;

/**
 * The MBR with GRUB's boot.img code in it, keeping the existing partition table (the
 * protective MBR sfdisk wrote) — what `grub-bios-setup` does for a GPT disk with a BIOS
 * boot partition.
 */
export function patchedMbr(mbr: Buffer, bootImg: Buffer, coreSector: number): Buffer {
  if (bootImg.length !== SECTOR || mbr.length !== SECTOR)
    throw new Error(`boot.img and the MBR must be ${SECTOR} bytes (got ${bootImg.length} and ${mbr.length})`);
  const out = Buffer.from(mbr);
  bootImg.copy(out, 0, 0, BOOT_CODE_BYTES);
  out.writeBigUInt64LE(BigInt(coreSector), BOOT_KERNEL_SECTOR);
  return out;
}

/**
 * core.img with its first sector's blocklist pointing at the rest of itself, placed at
 * `coreSector` (grub-mkimage leaves the length right; the start is where it lands).
 */
export function patchedCoreImg(coreImg: Buffer, coreSector: number, room: Partition): Buffer {
  if (coreImg.length > room.size * SECTOR) throw new Error(`core.img is ${coreImg.length} bytes, more than the BIOS boot partition's ${room.size * SECTOR}`);
  const out = Buffer.from(coreImg);
  const sectors = out.readUInt16LE(DISKBOOT_BLOCKLIST + 8);
  if (sectors !== Math.ceil(out.length / SECTOR) - 1)
    throw new Error(
      `core.img's blocklist says ${sectors} sectors, the file has ${Math.ceil(out.length / SECTOR) - 1} after diskboot (not an i386-pc core.img?)`,
    );
  out.writeBigUInt64LE(BigInt(coreSector + 1), DISKBOOT_BLOCKLIST);
  return out;
}
