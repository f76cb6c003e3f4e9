/**
 * The installer's initramfs: busybox, the kernel modules it must load (in order), the
 * /init script (with its erase, image and hwtest functions) and udhcpc's hook, as a gzip-compressed newc cpio archive. Built in
 * memory from files, so no cpio binary and no root file system on the host are needed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cpioArchive, type CpioEntry } from './cpio.ts';
import { readModule, type KernelModule } from './kernel-modules.ts';

export interface InitramfsInput {
  /** The static busybox binary. */
  busybox: string;
  kernelVersion: string;
  /** lib/modules/<version> of the unpacked kernel package. */
  modulesDir: string;
  /** In load order. */
  modules: KernelModule[];
  init: string;
  udhcpcScript: string;
  /** The erase step's functions, sourced by /init from etc/sprout/erase.sh. */
  eraseScript: string;
  /** The install step's image writing (format, checks, wipe on failure), from etc/sprout/image.sh. */
  imageScript: string;
  /** Plugins' script hardware tests, from etc/sprout/hwtest.sh. */
  hwtestScript: string;
}

/** The initramfs's entries: `.ko` files stored uncompressed so busybox insmod loads them as they are. */
export function initramfsEntries(input: InitramfsInput): CpioEntry[] {
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const dir = (path: string) => {
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) dirs.add(d), entries.push({ type: 'dir', path: d });
    }
  };
  for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', 'run', 'etc/sprout', 'root']) dir(d);
  // The kernel opens /dev/console for PID 1 before anything mounts devtmpfs.
  entries.push({ type: 'char', path: 'dev/console', major: 5, minor: 1, mode: 0o600 });
  entries.push({ type: 'file', path: 'bin/busybox', data: readFileSync(input.busybox), mode: 0o755 });
  entries.push({ type: 'symlink', path: 'bin/sh', target: 'busybox' });
  entries.push({ type: 'file', path: 'init', data: input.init, mode: 0o755 });
  entries.push({ type: 'file', path: 'etc/udhcpc.script', data: input.udhcpcScript, mode: 0o755 });
  entries.push({ type: 'file', path: 'etc/sprout/erase.sh', data: input.eraseScript, mode: 0o644 });
  entries.push({ type: 'file', path: 'etc/sprout/image.sh', data: input.imageScript, mode: 0o644 });
  entries.push({ type: 'file', path: 'etc/sprout/hwtest.sh', data: input.hwtestScript, mode: 0o644 });
  const loadPaths: string[] = [];
  for (const module of input.modules) {
    const path = module.path.replace(/\.(xz|zst|gz)$/, '');
    dir(`lib/modules/${input.kernelVersion}/${path.split('/').slice(0, -1).join('/')}`);
    entries.push({ type: 'file', path: `lib/modules/${input.kernelVersion}/${path}`, data: readModule(join(input.modulesDir, module.path)) });
    loadPaths.push(path);
  }
  entries.push({ type: 'file', path: 'etc/sprout/modules', data: loadPaths.map((p) => `${p}\n`).join('') });
  return entries;
}

export function buildInitramfs(input: InitramfsInput): Buffer {
  return gzipSync(cpioArchive(initramfsEntries(input)), { level: 9 });
}
