/**
 * The newc cpio writer, read back by a peer no one here wrote: busybox cpio (from the
 * busybox-static package the installer itself uses) lists and extracts it; the kernel
 * reading it is covered by the QEMU end-to-end test.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cpioArchive, type CpioEntry } from '../src/installer/cpio.ts';
import { busybox } from './installer-debs.ts';

const entries = (): { list: CpioEntry[]; payload: Buffer } => {
  const payload = randomBytes(70_001); // not a multiple of 4: the padding after data matters
  return {
    payload,
    list: [
      { type: 'dir', path: 'bin' },
      { type: 'dir', path: 'etc' },
      { type: 'dir', path: 'etc/sprout', mode: 0o700 },
      { type: 'file', path: 'bin/tool', data: payload, mode: 0o755 },
      { type: 'file', path: 'etc/sprout/modules', data: 'a.ko\nb.ko\n' },
      { type: 'file', path: 'etc/empty', data: '' },
      { type: 'file', path: 'etc/odd-name-of-13', data: 'x' },
      { type: 'symlink', path: 'bin/sh', target: 'tool' },
      { type: 'dir', path: 'dev' },
      { type: 'char', path: 'dev/console', major: 5, minor: 1 },
    ],
  };
};

test('busybox cpio lists every entry of the archive, in order, with its type', async (t) => {
  const bb = await busybox();
  const { list } = entries();
  const archive = cpioArchive(list);
  const names = execFileSync(bb, ['cpio', '-t'], { input: archive, stdio: ['pipe', 'pipe', 'ignore'] })
    .toString()
    .trim()
    .split('\n');
  t.deepEqual(
    names,
    list.map((e) => e.path),
  );
  const listed = execFileSync(bb, ['cpio', '-t', '-v'], { input: archive, stdio: ['pipe', 'pipe', 'ignore'] })
    .toString()
    .trim()
    .split('\n');
  t.regex(listed.find((l) => l.includes('bin/sh'))!, /^l.* bin\/sh -> tool$/);
  t.regex(listed.find((l) => l.includes('dev/console'))!, /^c/);
  t.regex(listed.find((l) => l.includes('bin/tool'))!, /^-rwxr-xr-x .* 70001 /);
});

test('busybox cpio extracts the same bytes, modes, symlink and device node (also from gzip, as the kernel gets it)', async (t) => {
  const bb = await busybox();
  const { list, payload } = entries();
  const dir = mkdtempSync(join(tmpdir(), 'sprout-cpio-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const archive = join(dir, 'archive.cpio.gz');
  writeFileSync(archive, gzipSync(cpioArchive(list)));
  const out = join(dir, 'out');
  execFileSync('sh', ['-c', `mkdir ${out} && cd ${out} && ${bb} zcat ${archive} | ${bb} cpio -i -d -m 2>/dev/null`]);
  t.deepEqual(readFileSync(join(out, 'bin/tool')), payload);
  t.is(lstatSync(join(out, 'bin/tool')).mode & 0o777, 0o755);
  t.is(readFileSync(join(out, 'etc/sprout/modules'), 'utf8'), 'a.ko\nb.ko\n');
  t.is(readFileSync(join(out, 'etc/empty'), 'utf8'), '');
  t.is(readFileSync(join(out, 'etc/odd-name-of-13'), 'utf8'), 'x');
  t.is(lstatSync(join(out, 'etc/sprout')).mode & 0o777, 0o700);
  t.true(lstatSync(join(out, 'bin/sh')).isSymbolicLink());
  t.is(readlinkSync(join(out, 'bin/sh')), 'tool');
  const console = lstatSync(join(out, 'dev/console'));
  t.true(console.isCharacterDevice());
  t.is(console.rdev, (5 << 8) | 1);
});

test('the archive ends with the trailer and is padded to 512-byte blocks; a path leaving the archive is refused', (t) => {
  const archive = cpioArchive([{ type: 'file', path: '/init', data: '#!/bin/sh\n' }]);
  t.is(archive.length % 512, 0);
  t.true(archive.includes(Buffer.from('TRAILER!!!\0')));
  t.true(archive.subarray(0, 6).equals(Buffer.from('070701')));
  t.throws(() => cpioArchive([{ type: 'file', path: '../etc/passwd', data: 'x' }]), { message: /not a path inside the archive/ });
});
