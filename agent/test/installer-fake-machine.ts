/**
 * A machine for the installer's shell functions to run against under the installer's own
 * busybox: a fake /sys/block and /dev whose disks are files, a bin/ of busybox applets (and
 * nothing else in PATH), and a scratch TMPDIR — so erase.sh, image.sh and hwtest.sh are
 * tested as /init runs them, without a booted machine.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { busybox } from './installer-debs.ts';

export const MiB = 1024 * 1024;

export interface FakeMachine {
  root: string;
  sys: string;
  dev: string;
  bin: string;
  tmp: string;
  discards: string;
}

/** The applets the installer's functions call. */
const applets = [
  'sh',
  'dd',
  'cat',
  'tail',
  'head',
  'sync',
  'blockdev',
  'echo',
  'od',
  'tr',
  'cut',
  'tee',
  'wc',
  'sha256sum',
  'gunzip',
  'xzcat',
  'bzcat',
  'mkfifo',
  'rm',
  'mkdir',
  'timeout',
  'date',
  'setsid',
  'sleep',
  'printf',
];

/** A machine whose disks are files: /sys/block/<name>/{size,ro,queue/discard_max_bytes}, /dev/<name>. */
export async function fakeMachine(t: { teardown(fn: () => void): void }): Promise<FakeMachine> {
  const root = mkdtempSync(join(tmpdir(), 'sprout-installer-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const m = { root, sys: join(root, 'sys', 'block'), dev: join(root, 'dev'), bin: join(root, 'bin'), tmp: join(root, 'tmp'), discards: join(root, 'discards') };
  for (const dir of [m.sys, m.dev, m.bin, m.tmp]) mkdirSync(dir, { recursive: true });
  const bb = await busybox();
  for (const applet of applets) symlinkSync(bb, join(m.bin, applet));
  // blkdiscard on a file fails; this one records what it was asked, as the kernel's would discard.
  writeFileSync(join(m.bin, 'blkdiscard'), `#!${bb} sh\necho "$@" >> ${m.discards}\n`, { mode: 0o755 });
  return m;
}

export function addDisk(m: FakeMachine, name: string, bytes: number, options: { discard?: boolean; ro?: boolean; file?: boolean } = {}): Buffer {
  mkdirSync(join(m.sys, name, 'queue'), { recursive: true });
  writeFileSync(join(m.sys, name, 'size'), `${bytes / 512}\n`);
  writeFileSync(join(m.sys, name, 'ro'), options.ro ? '1\n' : '0\n');
  writeFileSync(join(m.sys, name, 'queue', 'discard_max_bytes'), options.discard ? '2147450880\n' : '0\n');
  const data = Buffer.alloc(bytes, 0xa5);
  // An MBR signature, a GPT header at LBA 1 and its backup in the last sector.
  data.writeUInt16LE(0xaa55, 510);
  data.write('EFI PART', 512, 'latin1');
  data.write('EFI PART', bytes - 512, 'latin1');
  if (options.file !== false) writeFileSync(join(m.dev, name), data);
  return data;
}

/** Runs a busybox sh script on the machine; env adds to its PATH, SYS_BLOCK, DEV_DIR, BLKDISCARD and TMPDIR. */
export async function runOn(
  m: FakeMachine,
  script: string,
  env: Record<string, string> = {},
  timeout = 60_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(join(m.bin, 'sh'), ['-c', script], {
      env: { PATH: m.bin, SYS_BLOCK: m.sys, DEV_DIR: m.dev, BLKDISCARD: join(m.bin, 'blkdiscard'), TMPDIR: m.tmp, ...env },
      timeout,
      maxBuffer: 16 * MiB,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
