/**
 * The real installer's erase step (agent/installer/erase.sh, sourced by /init), run by
 * the installer's own busybox against a fake /sys/block and file-backed disks: every
 * disk loses its first and last 16 MiB (MBR, GPT and the GPT's backup), a disk that
 * supports discard is discarded too, a read-only one and non-disks are left alone, and
 * what was wiped comes out as the JSON /init posts with `erase-complete`. Not covered
 * here: /init's own `erase` branch on a booted machine (the QEMU end-to-end test's job).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { installerScripts } from '../src/installer/build.ts';
import { busybox } from './installer-debs.ts';

const MiB = 1024 * 1024;

interface FakeMachine {
  root: string;
  sys: string;
  dev: string;
  bin: string;
  discards: string;
}

/** A machine whose disks are files: /sys/block/<name>/{size,ro,queue/discard_max_bytes}, /dev/<name>. */
async function fakeMachine(t: { teardown(fn: () => void): void }): Promise<FakeMachine> {
  const root = mkdtempSync(join(tmpdir(), 'sprout-erase-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const m = { root, sys: join(root, 'sys', 'block'), dev: join(root, 'dev'), bin: join(root, 'bin'), discards: join(root, 'discards') };
  for (const dir of [m.sys, m.dev, m.bin]) mkdirSync(dir, { recursive: true });
  const bb = await busybox();
  for (const applet of ['sh', 'dd', 'cat', 'tail', 'sync', 'blockdev', 'echo']) symlinkSync(bb, join(m.bin, applet));
  // blkdiscard on a file fails; this one records what it was asked, as the kernel's would discard.
  writeFileSync(join(m.bin, 'blkdiscard'), `#!${bb} sh\necho "$@" >> ${m.discards}\n`, { mode: 0o755 });
  return m;
}

function addDisk(m: FakeMachine, name: string, bytes: number, options: { discard?: boolean; ro?: boolean; file?: boolean } = {}): Buffer {
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

async function erase(m: FakeMachine): Promise<{ code: number; stdout: string }> {
  const script = `. ${installerScripts.erase}\nif erase_disks; then echo "$ERASED"; printf '%s' "$ERASE_LINES"; else echo "ERROR $ERASE_ERROR"; exit 1; fi\n`;
  try {
    const { stdout } = await promisify(execFile)(join(m.bin, 'sh'), ['-c', script], { env: { PATH: m.bin, SYS_BLOCK: m.sys, DEV_DIR: m.dev, BLKDISCARD: join(m.bin, 'blkdiscard'), TMPDIR: m.root }, timeout: 60_000 });
    return { code: 0, stdout };
  } catch (err) {
    return { code: (err as { code: number }).code, stdout: (err as { stdout: string }).stdout };
  }
}

const zeroes = (b: Buffer) => b.every((byte) => byte === 0);

test('erase zeroes the first and last 16 MiB of every disk, discards where the disk supports it, and says what it wiped', async (t) => {
  const m = await fakeMachine(t);
  const sda = addDisk(m, 'sda', 40 * MiB);
  addDisk(m, 'vdb', 8 * MiB, { discard: true });
  const ro = addDisk(m, 'nvme0n1', 1 * MiB, { ro: true });
  // Not disks: never touched (they have no device file here, so touching one would fail).
  addDisk(m, 'loop0', 1 * MiB, { file: false });
  addDisk(m, 'sr0', 1 * MiB, { file: false });

  const run = await erase(m);
  t.is(run.code, 0, run.stdout);
  const [json, ...lines] = run.stdout.trim().split('\n');
  t.deepEqual(JSON.parse(json), [
    { disk: 'sda', bytes: 40 * MiB, method: 'zero-ends' },
    { disk: 'vdb', bytes: 8 * MiB, method: 'blkdiscard' },
  ]);
  t.deepEqual(lines, [
    'nvme0n1: read-only, left as it is',
    `sda: ${40 * MiB} bytes wiped (zero-ends; first and last 16 MiB zeroed)`,
    `vdb: ${8 * MiB} bytes wiped (blkdiscard; first and last 16 MiB zeroed)`,
  ]);

  const after = readFileSync(join(m.dev, 'sda'));
  t.is(after.length, 40 * MiB, 'the disk keeps its size');
  t.true(zeroes(after.subarray(0, 16 * MiB)), 'the first 16 MiB (MBR, GPT) are zero');
  t.true(zeroes(after.subarray(24 * MiB)), 'the last 16 MiB (the GPT backup) are zero');
  t.true(after.subarray(16 * MiB, 24 * MiB).equals(sda.subarray(16 * MiB, 24 * MiB)), 'the middle is not written');
  t.true(zeroes(readFileSync(join(m.dev, 'vdb'))), 'a disk smaller than 32 MiB is zeroed whole');
  t.deepEqual(readFileSync(m.discards, 'utf8').trim().split('\n'), [join(m.dev, 'vdb')], 'blkdiscard only where the disk supports discard');
  t.true(readFileSync(join(m.dev, 'nvme0n1')).equals(ro), 'the read-only disk is untouched');
});

test('erase fails, naming the disk, when it cannot wipe one, and when there is no disk at all', async (t) => {
  const m = await fakeMachine(t);
  const none = await erase(m);
  t.is(none.code, 1);
  t.regex(none.stdout, /^ERROR no disk to erase under .*sys\/block$/m);

  addDisk(m, 'sda', 1 * MiB);
  mkdirSync(join(m.sys, 'sdb'));
  writeFileSync(join(m.sys, 'sdb', 'size'), 'gone\n');
  const broken = await erase(m);
  t.is(broken.code, 1);
  t.regex(broken.stdout, /^ERROR sdb: no size under .*sys\/block\/sdb\/size$/m);
});
