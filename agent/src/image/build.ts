/**
 * `sprout artifacts build-image`: a bootable Debian disk image (GPT, BIOS boot partition,
 * ESP, ext4 root; GRUB for BIOS and UEFI; cloud-init, OpenSSH, sudo) made from Debian
 * packages only, with mmdebstrap, and assembled without loop devices or mounts (see
 * disk-layout.ts). Writes <out>/images/<name>.raw (or .raw.zst/.raw.gz) and its
 * manifest beside it, <file>.manifest.json — the name a site's image store reads its size
 * and sha256 from, so a large image is never hashed again. The .debs stay in a cache folder; an image
 * built from the same inputs is reused unless `force`.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { SproutError } from '@sprout/kernel/sdk';
import { defaultCacheDir as installerCacheDir, kernelFlavours, type KernelFlavour } from '../installer/build.ts';
import { run } from '../installer/debian-package.ts';
import { sha256Of } from '../services/http-boot/artifacts.ts';
import { diskLayout, patchedCoreImg, patchedMbr, SECTOR, sfdiskScript } from './disk-layout.ts';
import { enabledServices, grubEarlyConfig, grubModules, recipes, treeFiles, type TreeIds } from './recipes.ts';

export const imageNames = Object.keys(recipes);
/** What the installer's busybox decompresses while it streams (it has no zstd). */
export type Compression = 'none' | 'gzip' | 'xz';
export const compressions: Compression[] = ['none', 'gzip', 'xz'];
const extension: Record<Compression, string> = { none: '', gzip: '.gz', xz: '.xz' };

/** Bumped when what the builder does changes, so images built by an older builder are not reused. */
const BUILDER_VERSION = 2;

export interface BuildImageOptions {
  name: string;
  out: string;
  flavour?: KernelFlavour;
  compress?: Compression;
  cacheDir?: string;
  force?: boolean;
  progress?: (line: string) => void;
}

export interface ImageManifest {
  name: string;
  /** The image file, relative to the manifest's folder. */
  file: string;
  /** `raw`: a whole-disk image; `compression` says how the file is packed. */
  format: 'raw';
  compression: Compression;
  /** Bytes and sha256 of the file as stored (what a download is checked against). */
  size: number;
  sha256: string;
  /** The disk image once decompressed (same as size/sha256 when not compressed). */
  raw: { size: number; sha256: string };
  suite: string;
  kernel: { flavour: KernelFlavour; package: string; version: string };
  packages: number;
  layout: { table: 'gpt'; partitions: Array<{ name: string; type: string; start: number; sectors: number }>; rootUuid: string };
  builtAt: string;
  buildSeconds: number;
  /** sha256 of the build's inputs (recipe, files written into the tree, flavour, compression, builder version). */
  inputs: string;
}

export interface BuildImageResult {
  manifest: ImageManifest;
  imagePath: string;
  manifestPath: string;
  /** True when an image built from the same inputs was already there. */
  reused: boolean;
}

export const defaultImageCacheDir = () => join(dirname(installerCacheDir()), 'image-debs');

/** Runs a long command, passing its status lines (mmdebstrap's I:/W:/E:) to `progress`; fails with its last lines. */
function stream(command: string, args: string[], progress: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const last: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        last.push(line);
        if (last.length > 30) last.shift();
        if (/^[IWE]: /.test(line)) progress(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) =>
      reject(new SproutError('SPROUT_ERR_UNAVAILABLE', `${command}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : err.message}`)),
    );
    child.on('close', (code, signal) =>
      code === 0 ? resolve() : reject(new SproutError('SPROUT_ERR_UNAVAILABLE', `${command} failed (${code ?? signal}): ${last.slice(-12).join(' | ')}`)),
    );
  });
}

function writeAt(path: string, data: Buffer, position: number): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, data, 0, data.length, position);
  } finally {
    closeSync(fd);
  }
}

/** `bytes` bytes of `path` from `position` on (tests read disks with it too). */
export function readAt(path: string, bytes: number, position = 0): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    readSync(fd, buffer, 0, bytes, position);
    return buffer;
  } finally {
    closeSync(fd);
  }
}

/** KiB the tree takes on disk. */
async function treeKiB(tree: string): Promise<number> {
  return Number((await run('du', ['-sk', '--one-file-system', tree])).split(/\s/)[0]);
}

/** dpkg path filters of the image (in /etc/dpkg/dpkg.cfg.d/, so packages installed later keep to them). */
export const imageDpkgExcludes = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/lintian/*',
];

/** mmdebstrap into `tree`, the .debs synced in from and out to the cache folder. */
async function bootstrap(
  recipe: { suite: string; mirrors: string[]; packages: string[] },
  tree: string,
  cacheDir: string,
  progress: (line: string) => void,
): Promise<void> {
  mkdirSync(cacheDir, { recursive: true });
  await stream(
    'mmdebstrap',
    [
      '--mode=root',
      '--variant=apt',
      '--format=directory',
      // Keep the downloaded .debs (all of them, Essential too) so the cache can take them.
      '--skip=essential/unlink',
      '--skip=download/empty',
      `--include=${recipe.packages.join(',')}`,
      // No manuals, translations or docs but copyright notices, as Debian's minimal cloud and
      // container images: every megabyte is streamed to, hashed and written on each machine.
      ...imageDpkgExcludes.map((rule) => `--dpkgopt=${rule}`),
      '--setup-hook=mkdir -p "$1"/var/cache/apt/archives/',
      `--setup-hook=sync-in '${cacheDir}' /var/cache/apt/archives/`,
      `--customize-hook=sync-out /var/cache/apt/archives '${cacheDir}'`,
      '--customize-hook=rm -f "$1"/var/cache/apt/archives/*.deb',
      recipe.suite,
      tree,
      ...recipe.mirrors,
    ],
    progress,
  );
}

/** Config files, services, fresh identity, GRUB's modules: what makes the tree an image. */
async function configureTree(tree: string, ids: TreeIds): Promise<void> {
  for (const [path, content] of Object.entries(treeFiles(ids))) {
    mkdirSync(dirname(join(tree, path)), { recursive: true });
    writeFileSync(join(tree, path), content);
  }
  mkdirSync(join(tree, 'boot/efi'), { recursive: true });
  await run('chroot', [tree, 'systemctl', 'enable', ...enabledServices]);
  // Each installed machine gets its own identity on first boot.
  writeFileSync(join(tree, 'etc/machine-id'), '');
  rmSync(join(tree, 'var/lib/dbus/machine-id'), { force: true });
  await run('sh', ['-c', 'rm -f "$1"/etc/ssh/ssh_host_*', 'sh', tree]);
  for (const platform of Object.keys(grubModules)) cpSync(join(tree, 'usr/lib/grub', platform), join(tree, 'boot/grub', platform), { recursive: true });
}

/** GRUB's images, made by the tree's own grub-mkimage (its modules, its version). */
async function grubImages(tree: string, ids: TreeIds): Promise<{ bootImg: Buffer; coreImg: Buffer; efi: Buffer }> {
  const scratch = mkdtempSync(join(tree, 'tmp', 'grub-'));
  const inside = scratch.slice(tree.length);
  try {
    writeFileSync(join(scratch, 'early.cfg'), grubEarlyConfig(ids));
    await run('chroot', [
      tree,
      'grub-mkimage',
      '-O',
      'i386-pc',
      '-o',
      `${inside}/core.img`,
      '-c',
      `${inside}/early.cfg`,
      '-p',
      '/boot/grub',
      ...grubModules['i386-pc'],
    ]);
    await run('chroot', [
      tree,
      'grub-mkimage',
      '-O',
      'x86_64-efi',
      '-o',
      `${inside}/BOOTX64.EFI`,
      '-c',
      `${inside}/early.cfg`,
      '-p',
      '/boot/grub',
      ...grubModules['x86_64-efi'],
    ]);
    return {
      bootImg: readFileSync(join(tree, 'usr/lib/grub/i386-pc/boot.img')),
      coreImg: readFileSync(join(scratch, 'core.img')),
      efi: readFileSync(join(scratch, 'BOOTX64.EFI')),
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Packs `path` in place (the file becomes `<path>.gz`/`.xz`); answers the new path. */
export async function compressFile(path: string, compression: Compression): Promise<string> {
  if (compression === 'none') return path;
  const target = `${path}${extension[compression]}`;
  // xz's check is CRC32: busybox's unxz (the installer's) verifies nothing stronger, and the sha256 covers the file anyway.
  const tool = compression === 'gzip' ? 'gzip -c -6' : 'xz -c -T0 -3 --check=crc32';
  await run('sh', ['-c', `${tool} "$1" > "$2" && rm -f "$1"`, 'sh', path, target]);
  return target;
}

function inputsOf(recipe: object, flavour: KernelFlavour, compression: Compression): string {
  const files = treeFiles({ rootUuid: 'ROOT-UUID', espId: 'ESP-ID' });
  return createHash('sha256')
    .update(JSON.stringify({ recipe, files, grubModules, enabledServices, flavour, compression, builder: BUILDER_VERSION }))
    .digest('hex');
}

function readManifest(path: string): ImageManifest | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ImageManifest;
  } catch {
    return null;
  }
}

export async function buildImage(options: BuildImageOptions): Promise<BuildImageResult> {
  const makeRecipe = recipes[options.name];
  if (!makeRecipe) throw new SproutError('SPROUT_ERR_VALIDATION', `unknown image ${options.name}: known are ${imageNames.join(', ')}`);
  const flavour = options.flavour ?? 'cloud';
  if (!kernelFlavours.includes(flavour)) throw new SproutError('SPROUT_ERR_VALIDATION', `kernel flavour must be one of: ${kernelFlavours.join(', ')}`);
  const compression = options.compress ?? 'none';
  if (!compressions.includes(compression)) throw new SproutError('SPROUT_ERR_VALIDATION', `compression must be one of: ${compressions.join(', ')}`);
  const progress = options.progress ?? (() => {});
  const recipe = makeRecipe(flavour);
  const inputs = inputsOf(recipe, flavour, compression);
  const dir = join(options.out, 'images');
  const manifestOf = (c: (typeof compressions)[number]) => join(dir, `${recipe.name}.raw${extension[c]}.manifest.json`);
  const manifestPath = manifestOf(compression);

  const previous = readManifest(manifestPath);
  if (!options.force && previous?.inputs === inputs) {
    const imagePath = join(dir, previous.file);
    if (existsSync(imagePath) && statSync(imagePath).size === previous.size) return { manifest: previous, imagePath, manifestPath, reused: true };
  }
  if (process.getuid?.() !== 0)
    throw new SproutError('SPROUT_ERR_FORBIDDEN', 'build-image must run as root (mmdebstrap --mode=root, chroot, a root filesystem of files owned by root)');

  const started = Date.now();
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(dir, `.build-${recipe.name}-`));
  try {
    const tree = join(work, 'tree');
    progress(`mmdebstrap ${recipe.suite}: ${recipe.packages.length} packages and their dependencies (cache ${options.cacheDir ?? defaultImageCacheDir()})`);
    await bootstrap(recipe, tree, options.cacheDir ?? defaultImageCacheDir(), progress);
    const ids: TreeIds = {
      rootUuid: randomUUID(),
      espId: randomBytes(4)
        .toString('hex')
        .toUpperCase()
        .replace(/^(.{4})/, '$1-'),
    };
    await configureTree(tree, ids);
    const grub = await grubImages(tree, ids);
    const installed = (await run('chroot', [tree, 'dpkg-query', '-W', '-f', '${binary:Package} ${Version}\n'])).trim().split('\n');
    const kernelLine = installed.find((line) => line.startsWith(`${recipe.packages.at(-1)} `)) ?? '';

    // Root: the tree plus room for first boot (journal, logs, cloud-init) until cloud-init's
    // growpart, early in that boot, grows it to the disk. Every byte of slack is streamed,
    // hashed and written by every install, so it is kept small: ext4's own metadata (~5 %)
    // and 64 MiB.
    const rootMiB = Math.ceil(((await treeKiB(tree)) * 1.08) / 1024) + 64;
    const layout = diskLayout(rootMiB);
    const raw = join(work, `${recipe.name}.raw`);
    progress(`layout: ${layout.bytes / 1024 / 1024} MiB image, root ${rootMiB} MiB`);
    writeFileSync(raw, '');
    truncateSync(raw, layout.bytes);
    await run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', raw], undefined, sfdiskScript(layout));

    // ESP: a FAT filesystem in its own file, filled with mtools, copied in.
    const esp = join(work, 'esp.img');
    await run('mkfs.fat', ['-C', '-n', 'ESP', '-i', ids.espId.replace('-', ''), esp, String((layout.esp.size * SECTOR) / 1024)]);
    const efiFile = join(work, 'BOOTX64.EFI');
    writeFileSync(efiFile, grub.efi);
    await run('mmd', ['-i', esp, '::/EFI', '::/EFI/BOOT']);
    await run('mcopy', ['-i', esp, efiFile, '::/EFI/BOOT/BOOTX64.EFI']);
    writeAt(raw, readFileSync(esp), layout.esp.start * SECTOR);

    // Root: ext4 written straight into the image at the partition's offset. No
    // metadata_csum_seed/orphan_file: GRUB 2.06 and older e2fsck do not read them.
    await run('mke2fs', [
      '-q',
      '-F',
      '-t',
      'ext4',
      '-L',
      'root',
      '-U',
      ids.rootUuid,
      '-i',
      '8192',
      '-O',
      '^metadata_csum_seed,^orphan_file',
      '-E',
      `offset=${layout.root.start * SECTOR}`,
      '-d',
      tree,
      raw,
      `${rootMiB}M`,
    ]);
    if (statSync(raw).size !== layout.bytes)
      throw new SproutError('SPROUT_ERR_INTERNAL', `mke2fs changed the image size (${statSync(raw).size} bytes, expected ${layout.bytes})`);

    // BIOS: core.img in the BIOS boot partition, boot.img's code in the MBR pointing at it.
    writeAt(raw, patchedCoreImg(grub.coreImg, layout.biosBoot.start, layout.biosBoot), layout.biosBoot.start * SECTOR);
    writeAt(raw, patchedMbr(readAt(raw, SECTOR, 0), grub.bootImg, layout.biosBoot.start), 0);

    const rawSha = await sha256Of(raw, layout.bytes, statSync(raw).mtimeMs);
    progress(`compressing (${compression})`);
    const packed = await compressFile(raw, compression);
    const stat = statSync(packed);
    const file = `${recipe.name}.raw${extension[compression]}`;
    const manifest: ImageManifest = {
      name: recipe.name,
      file,
      format: 'raw',
      compression,
      size: stat.size,
      sha256: compression === 'none' ? rawSha : await sha256Of(packed, stat.size, stat.mtimeMs),
      raw: { size: layout.bytes, sha256: rawSha },
      suite: recipe.suite,
      kernel: { flavour, package: kernelLine.split(' ')[0] ?? '', version: kernelLine.split(' ')[1] ?? '' },
      packages: installed.length,
      layout: {
        table: 'gpt',
        partitions: [layout.biosBoot, layout.esp, layout.root].map((p) => ({ name: p.name, type: p.type, start: p.start, sectors: p.size })),
        rootUuid: ids.rootUuid,
      },
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - started) / 100) / 10,
      inputs,
    };
    // Other compressions of the same image are stale now.
    for (const c of compressions) {
      rmSync(join(dir, `${recipe.name}.raw${extension[c]}`), { force: true });
      rmSync(manifestOf(c), { force: true });
    }
    const imagePath = join(dir, file);
    renameSync(packed, imagePath);
    const scratchManifest = join(work, 'manifest.json');
    writeFileSync(scratchManifest, `${JSON.stringify(manifest, null, 2)}\n`);
    renameSync(scratchManifest, manifestPath);
    return { manifest, imagePath, manifestPath, reused: false };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
