/**
 * The real installer's image writing (agent/installer/image.sh, sourced by /init), run by
 * the installer's own busybox against a file-backed disk, the download replaced by `cat`
 * of a file: a raw or gzip image is written and read back, the format named; a checksum
 * mismatch leaves no partition table behind and says so; a qcow2 image is refused before
 * anything is written, naming the conversion. Not covered here: the download over HTTP and
 * /init's install branch on a booted machine (the QEMU end-to-end test's job).
 */
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { compressFile } from '../src/image/build.ts';
import { installerScripts } from '../src/installer/build.ts';
import { addDisk, fakeMachine, MiB, runOn, type FakeMachine } from './installer-fake-machine.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const zeroes = (b: Buffer) => b.every((byte) => byte === 0);

/** deploy_image of the file `name` (as served) onto vda; answers the variables it set, or its error. */
async function deploy(m: FakeMachine, name: string, served: Buffer, expected: { sha256?: string; size?: number } = {}) {
  writeFileSync(join(m.root, name), served);
  const script =
    `. ${installerScripts.erase}\n. ${installerScripts.image}\n` +
    `if deploy_image "${join(m.root, name)}" "${join(m.dev, 'vda')}"; then echo "ok $IMAGE_FORMAT $IMAGE_BYTES $IMAGE_SHA256 $IMAGE_WRITTEN"; else echo "ERROR $IMAGE_ERROR"; exit 1; fi\n`;
  const run = await runOn(m, script, {
    IMAGE_FETCH: 'cat',
    DROP_CACHES: '/dev/null',
    SPROUT_IMAGE_SHA256: expected.sha256 ?? sha256(served),
    SPROUT_IMAGE_SIZE: String(expected.size ?? served.length),
  });
  return { ...run, line: run.stdout.trim().split('\n').pop() ?? '' };
}

/** A recognisable "disk image": an MBR signature and random content. */
function diskImage(bytes: number): Buffer {
  const image = randomBytes(bytes);
  image.writeUInt16LE(0xaa55, 510);
  return image;
}

test('a raw image is written, read back and reported as raw', async (t) => {
  const m = await fakeMachine(t);
  addDisk(m, 'vda', 40 * MiB);
  const image = diskImage(3 * MiB + 123);
  const run = await deploy(m, 'disk.raw', image);
  t.is(run.code, 0, run.stdout + run.stderr);
  t.is(run.line, `ok raw ${image.length} ${sha256(image)} ${image.length}`);
  const disk = readFileSync(join(m.dev, 'vda'));
  t.is(disk.length, 40 * MiB, 'the disk keeps its size');
  t.true(disk.subarray(0, image.length).equals(image));
});

test('a gzip image is decompressed on the way, its download checked against the sum of the file as served', async (t) => {
  const m = await fakeMachine(t);
  addDisk(m, 'vda', 40 * MiB);
  const image = Buffer.concat([diskImage(1 * MiB), Buffer.alloc(4 * MiB)]);
  const served = gzipSync(image);
  const run = await deploy(m, 'disk.raw.gz', served);
  t.is(run.code, 0, run.stdout + run.stderr);
  t.is(run.line, `ok gzip ${served.length} ${sha256(served)} ${image.length}`);
  t.true(readFileSync(join(m.dev, 'vda')).subarray(0, image.length).equals(image), 'the disk holds the decompressed image');
});

for (const compression of ['gzip', 'xz'] as const) {
  test(`an image \`build-image --compress ${compression}\` packed is decompressed on the way and written whole`, async (t) => {
    const m = await fakeMachine(t);
    addDisk(m, 'vda', 40 * MiB);
    const image = Buffer.concat([diskImage(2 * MiB), Buffer.alloc(6 * MiB), diskImage(1 * MiB)]);
    const raw = join(m.root, 'built.raw');
    writeFileSync(raw, image);
    const packed = await compressFile(raw, compression);
    t.is(packed, `${raw}.${compression === 'gzip' ? 'gz' : 'xz'}`);
    const served = readFileSync(packed);
    t.true(served.length < image.length / 2, 'the file is packed');
    const run = await deploy(m, `disk.raw.${compression === 'gzip' ? 'gz' : 'xz'}`, served);
    t.is(run.code, 0, run.stdout + run.stderr);
    t.is(run.line, `ok ${compression} ${served.length} ${sha256(served)} ${image.length}`);
    t.true(readFileSync(join(m.dev, 'vda')).subarray(0, image.length).equals(image), 'the disk holds the image, byte for byte');
  });
}

test('a checksum mismatch zeroes the partition tables it wrote and says so', async (t) => {
  const m = await fakeMachine(t);
  addDisk(m, 'vda', 40 * MiB);
  const image = diskImage(2 * MiB);
  const wrong = 'ab'.repeat(32);
  const run = await deploy(m, 'disk.raw', image, { sha256: wrong });
  t.is(run.code, 1);
  t.is(
    run.line,
    `ERROR image checksum mismatch: expected sha256 ${wrong}, actual ${sha256(image)}; ${join(m.dev, 'vda')} wiped: its first and last 16 MiB zeroed, no partition table left to boot`,
  );
  const disk = readFileSync(join(m.dev, 'vda'));
  t.true(zeroes(disk.subarray(0, 16 * MiB)), 'the image written (MBR included) is gone');
  t.true(zeroes(disk.subarray(24 * MiB)), 'the GPT backup is gone');
});

test('a qcow2 image is refused before a byte of it is written', async (t) => {
  const m = await fakeMachine(t);
  const before = addDisk(m, 'vda', 40 * MiB);
  const qcow2 = Buffer.concat([Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]), randomBytes(64 * 1024)]);
  const run = await deploy(m, 'test.qcow2', qcow2);
  t.is(run.code, 1);
  t.regex(run.line, /^ERROR image test\.qcow2 is qcow2; convert it with qemu-img convert -O raw test\.qcow2 test\.raw; .*vda wiped/);
  const disk = readFileSync(join(m.dev, 'vda'));
  t.false(disk.includes(qcow2.subarray(0, 8)), 'nothing of the qcow2 file is on the disk');
  t.true(disk.subarray(16 * MiB, 24 * MiB).equals(before.subarray(16 * MiB, 24 * MiB)), 'only the ends are wiped');
});

test('a zstd image is refused, naming what to do instead', async (t) => {
  const m = await fakeMachine(t);
  addDisk(m, 'vda', 40 * MiB);
  const run = await deploy(m, 'disk.raw.zst', Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), randomBytes(1024)]));
  t.is(run.code, 1);
  t.regex(run.line, /^ERROR image disk\.raw\.zst is zstd-compressed, which this installer cannot decompress; store it raw, gzip- or xz-compressed/);
});
