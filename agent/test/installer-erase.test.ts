/**
 * The real installer's erase step (agent/installer/erase.sh, sourced by /init), run by
 * the installer's own busybox against a fake /sys/block and file-backed disks: every
 * disk loses its first and last 16 MiB (MBR, GPT and the GPT's backup), a disk that
 * supports discard is discarded too, a read-only one and non-disks are left alone, and
 * what was wiped comes out as the JSON /init posts with `erase-complete`. Not covered
 * here: /init's own `erase` branch on a booted machine (the QEMU end-to-end test's job).
 */
import test from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installerScripts } from '../src/installer/build.ts';
import { addDisk, fakeMachine, MiB, runOn, type FakeMachine } from './installer-fake-machine.ts';

function erase(m: FakeMachine): Promise<{ code: number; stdout: string }> {
  return runOn(m, `. ${installerScripts.erase}\nif erase_disks; then echo "$ERASED"; printf '%s' "$ERASE_LINES"; else echo "ERROR $ERASE_ERROR"; exit 1; fi\n`);
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
