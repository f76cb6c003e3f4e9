/**
 * `sprout artifacts build-installer`: the kernel and initramfs the agent's http service
 * boots machines into, made from Debian packages only (a linux-image and
 * busybox-static, downloaded with apt and unpacked, never installed). Writes
 * <out>/installer/{vmlinuz,initrd.img,manifest.json}, each replaced atomically.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SproutError } from '@sprout/kernel/sdk';
import { download, kernelPackageOf, unpack } from './debian-package.ts';
import { ModuleTree } from './kernel-modules.ts';
import { buildInitramfs } from './initramfs.ts';

export type KernelFlavour = 'cloud' | 'generic';
export const kernelFlavours: KernelFlavour[] = ['cloud', 'generic'];

/**
 * Drivers the installer needs that Debian builds as modules: virtio for QEMU/KVM, NVMe and SCSI disks; e1000/AHCI on real hardware;
 * ext4 to write the cloud-init seed into the installed root filesystem (init: seed_cloud_init).
 */
export const installerModules: Record<KernelFlavour, string[]> = {
  cloud: ['virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_scsi', 'sd_mod', 'nvme', 'ext4'],
  generic: ['virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_scsi', 'sd_mod', 'nvme', 'e1000', 'e1000e', 'ahci', 'ata_piix', 'ext4'],
};

/** The /init script, the functions it sources (erase, image writing, script tests) and udhcpc hook, kept as real files beside the agent's sources. */
export const installerScripts = {
  init: fileURLToPath(new URL('../../installer/init', import.meta.url)),
  erase: fileURLToPath(new URL('../../installer/erase.sh', import.meta.url)),
  image: fileURLToPath(new URL('../../installer/image.sh', import.meta.url)),
  hwtest: fileURLToPath(new URL('../../installer/hwtest.sh', import.meta.url)),
  udhcpc: fileURLToPath(new URL('../../installer/udhcpc.script', import.meta.url)),
};

export interface BuildOptions {
  out: string;
  flavour?: KernelFlavour;
  cacheDir?: string;
  /** Progress lines for a person. */
  progress?: (line: string) => void;
}

export interface InstallerFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface InstallerManifest {
  kernel: { package: string; version: string; release: string; flavour: KernelFlavour };
  busybox: { package: string; version: string };
  /** In the order /init loads them. */
  modules: string[];
  vmlinuz: InstallerFile;
  initrd: InstallerFile;
}

export const defaultCacheDir = () => join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'sprout', 'debs');

function writeAtomically(path: string, data: Buffer | string): void {
  const scratch = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(scratch, data);
  renameSync(scratch, path);
}

function describe(path: string, relative: string): InstallerFile {
  const data = readFileSync(path);
  return { path: relative, bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') };
}

export async function buildInstaller(options: BuildOptions): Promise<InstallerManifest> {
  const flavour = options.flavour ?? 'cloud';
  if (!kernelFlavours.includes(flavour)) throw new SproutError('SPROUT_ERR_VALIDATION', `kernel flavour must be one of: ${kernelFlavours.join(', ')}`);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const progress = options.progress ?? (() => {});

  const kernelName = await kernelPackageOf(flavour === 'cloud' ? 'linux-image-cloud-amd64' : 'linux-image-amd64');
  progress(`kernel package ${kernelName}`);
  const kernelDeb = await download(kernelName, cacheDir);
  const busyboxDeb = await download('busybox-static', cacheDir);
  progress(`downloaded (or found in ${cacheDir}) ${kernelDeb.name} ${kernelDeb.version}, ${busyboxDeb.name} ${busyboxDeb.version}`);
  const kernelTree = await unpack(kernelDeb, join(cacheDir, 'unpacked', `${kernelDeb.name}_${kernelDeb.version}`));
  const busyboxTree = await unpack(busyboxDeb, join(cacheDir, 'unpacked', `${busyboxDeb.name}_${busyboxDeb.version}`));

  const release = kernelName.replace(/^linux-image-/, '');
  const vmlinuz = join(kernelTree, 'boot', `vmlinuz-${release}`);
  const modulesDir = join(kernelTree, 'lib', 'modules', release);
  if (!existsSync(vmlinuz) || !existsSync(modulesDir))
    throw new SproutError('SPROUT_ERR_UNAVAILABLE', `${kernelDeb.deb} has no boot/vmlinuz-${release} or lib/modules/${release}`);
  const busybox = join(busyboxTree, 'bin', 'busybox');
  if (!existsSync(busybox)) throw new SproutError('SPROUT_ERR_UNAVAILABLE', `${busyboxDeb.deb} has no bin/busybox`);

  let modules;
  try {
    modules = new ModuleTree(modulesDir).loadOrder(installerModules[flavour]);
  } catch (err) {
    throw new SproutError('SPROUT_ERR_UNAVAILABLE', `${kernelName}: ${(err as Error).message}`, { cause: err });
  }
  progress(`modules to load: ${modules.map((m) => m.name).join(' ') || 'none (all built in)'}`);
  const initrd = buildInitramfs({
    busybox,
    kernelVersion: release,
    modulesDir,
    modules,
    init: readFileSync(installerScripts.init, 'utf8'),
    udhcpcScript: readFileSync(installerScripts.udhcpc, 'utf8'),
    eraseScript: readFileSync(installerScripts.erase, 'utf8'),
    imageScript: readFileSync(installerScripts.image, 'utf8'),
    hwtestScript: readFileSync(installerScripts.hwtest, 'utf8'),
  });

  const dir = join(options.out, 'installer');
  mkdirSync(dir, { recursive: true });
  writeAtomically(join(dir, 'vmlinuz'), readFileSync(vmlinuz));
  writeAtomically(join(dir, 'initrd.img'), initrd);
  const manifest: InstallerManifest = {
    kernel: { package: kernelDeb.name, version: kernelDeb.version, release, flavour },
    busybox: { package: busyboxDeb.name, version: busyboxDeb.version },
    modules: modules.map((m) => m.name),
    vmlinuz: describe(join(dir, 'vmlinuz'), 'installer/vmlinuz'),
    initrd: describe(join(dir, 'initrd.img'), 'installer/initrd.img'),
  };
  writeAtomically(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
