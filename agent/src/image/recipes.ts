/**
 * What goes into a Sprout OS image: the Debian suite and packages mmdebstrap installs,
 * and the files the builder writes into the tree afterwards (GRUB's config, fstab,
 * cloud-init's settings). Cloud-init's datasource seed is NOT baked in: the installer
 * points each installed system at its site's metadata service (docs/images.md).
 */
import type { KernelFlavour } from '../installer/build.ts';

export interface ImageRecipe {
  /** The image's name, as deployed (`--image NAME`). */
  name: string;
  suite: string;
  /** apt sources, one-line format. */
  mirrors: string[];
  packages: string[];
}

const debianMirrors = (suite: string) => [
  `deb http://deb.debian.org/debian ${suite} main`,
  `deb http://deb.debian.org/debian ${suite}-updates main`,
  `deb http://deb.debian.org/debian-security ${suite}-security main`,
];

export const kernelMetaPackage: Record<KernelFlavour, string> = { cloud: 'linux-image-cloud-amd64', generic: 'linux-image-amd64' };

/** mmdebstrap's `apt` variant (Essential + apt) plus these; it installs no Recommends. */
const basePackages = [
  'systemd-sysv',
  'udev',
  'kmod',
  'dbus',
  'systemd-resolved',
  'iproute2',
  'netbase',
  'less',
  'ca-certificates',
  'initramfs-tools',
  'zstd',
  // GRUB's images for both firmwares; no grub-pc/grub-efi-amd64 (they conflict, and their
  // maintainer scripts would run grub-install), no update-grub: grub.cfg is the builder's.
  'grub-pc-bin',
  'grub-efi-amd64-bin',
  'cloud-init',
  'cloud-guest-utils',
  'openssh-server',
  'sudo',
];

export const recipes: Record<string, (flavour: KernelFlavour) => ImageRecipe> = {
  'debian-12': (flavour) => ({
    name: 'debian-12',
    suite: 'bookworm',
    mirrors: debianMirrors('bookworm'),
    packages: [...basePackages, kernelMetaPackage[flavour]],
  }),
};

export interface TreeIds {
  rootUuid: string;
  /** FAT volume id, XXXX-XXXX. */
  espId: string;
}

/** The kernel command line: the serial console last, so it is /dev/console (tests read it). */
export const kernelCommandLine = (ids: TreeIds) => `root=UUID=${ids.rootUuid} ro console=tty0 console=ttyS0,115200n8`;

/** Embedded in both GRUB images: find the root filesystem, read /boot/grub/grub.cfg from it. */
export const grubEarlyConfig = (ids: TreeIds) => `search --no-floppy --fs-uuid --set=root ${ids.rootUuid}\nset prefix=($root)/boot/grub\n`;

/**
 * The one grub.cfg, for BIOS and UEFI. Boots the /vmlinuz and /initrd.img symlinks the
 * kernel package keeps current, so kernel upgrades need no update-grub. An installer may
 * add kernel arguments in /boot/grub/sprout-cmdline.cfg (`set sprout_cmdline='…'`).
 */
export const grubConfig = (ids: TreeIds) => `# Written by sprout artifacts build-image; not managed by update-grub.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
set sprout_cmdline=""
if [ -f $prefix/sprout-cmdline.cfg ]; then source $prefix/sprout-cmdline.cfg; fi
menuentry 'Debian GNU/Linux' {
  search --no-floppy --fs-uuid --set=root ${ids.rootUuid}
  linux /vmlinuz ${kernelCommandLine(ids)} $sprout_cmdline
  initrd /initrd.img
}
`;

/** Modules built into the GRUB images (the rest load from /boot/grub/<platform>/). */
export const grubModules = {
  'i386-pc': ['biosdisk', 'part_gpt', 'ext2', 'search', 'search_fs_uuid', 'normal', 'configfile', 'linux', 'echo', 'test', 'serial', 'terminal', 'gzio'],
  'x86_64-efi': [
    'part_gpt',
    'fat',
    'ext2',
    'search',
    'search_fs_uuid',
    'normal',
    'configfile',
    'linux',
    'echo',
    'test',
    'serial',
    'terminal',
    'gzio',
    'efi_gop',
    'all_video',
  ],
};

/** Files written into the tree (path relative to its root → content). */
export function treeFiles(ids: TreeIds): Record<string, string> {
  return {
    // The ESP: no fsck (dosfstools is not in the image; a failing fsck keeps it unmounted), no short
    // device timeout (udev under emulation is slow); nofail, so boot never waits on it.
    'etc/fstab': `UUID=${ids.rootUuid} / ext4 errors=remount-ro 0 1\nUUID=${ids.espId} /boot/efi vfat umask=0077,nofail 0 0\n`,
    'etc/default/locale': 'LANG=C.UTF-8\n',
    'etc/hostname': 'debian\n',
    'etc/hosts': '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n',
    'boot/grub/grub.cfg': grubConfig(ids),
    'etc/cloud/cloud.cfg.d/90-sprout-image.cfg': `# Written by sprout artifacts build-image. The seed (NoCloud over HTTP) is configured by
# the installer, in another file of this folder or on the kernel command line.
datasource_list: [NoCloud, None]
# An RSA host key takes ~10 s to generate on a slow (emulated) CPU.
ssh_genkeytypes: [ed25519, ecdsa]
growpart: {mode: auto, devices: ['/']}
resize_rootfs: true
# No locale is generated in the image (locales-all is 200 MB); C.UTF-8 is built into glibc,
# where cloud-init's default (en_US.UTF-8) makes update-locale fail and cloud-init report an error.
locale: C.UTF-8
system_info:
  network:
    renderers: [networkd]
    activators: [networkd]
`,
  };
}

/** Services enabled in the tree (`systemctl enable` works offline in a chroot). */
export const enabledServices = ['systemd-networkd', 'systemd-resolved', 'ssh'];
