/** Boot files held in memory for the transfers running at the same time (SharedFiles), with a counting stand-in for the file. */
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import test from 'ava';
import { SharedFiles, type FileIdentity } from '../../src/services/tftp/shared-files.ts';

/** A FileHandle that serves `content` (cut to `available` bytes) and counts its reads. */
function fakeFile(content: Buffer, available = content.length): FileHandle & { reads: number } {
  const file = {
    reads: 0,
    async read(buffer: Buffer, offset: number, length: number, position: number) {
      file.reads += 1;
      const bytesRead = Math.max(0, Math.min(length, available - position));
      content.copy(buffer, offset, position, position + bytesRead);
      return { bytesRead, buffer };
    },
  };
  return file as unknown as FileHandle & { reads: number };
}

const identity = (size: number, mtimeMs = 1): FileIdentity => ({ dev: 1, ino: 7, size, mtimeMs });

test('transfers of the same file at the same time share one read and one buffer, dropped when the last is released', async (t) => {
  const content = randomBytes(10_000);
  const files = new SharedFiles(1 << 20, 1 << 20);
  const first = fakeFile(content);
  const second = fakeFile(content);
  const [a, b] = await Promise.all([
    files.acquire('/boot/ipxe.efi', identity(content.length), first),
    files.acquire('/boot/ipxe.efi', identity(content.length), second),
  ]);
  t.true(a!.bytes.equals(content));
  t.is(a!.bytes, b!.bytes, 'one buffer for both');
  t.is(first.reads + second.reads, 1, 'read once');
  t.is(files.held, content.length);
  a!.release();
  a!.release(); // twice is once
  t.is(files.held, content.length, 'still held for the other transfer');
  b!.release();
  t.is(files.held, 0);
  const again = fakeFile(content);
  const c = await files.acquire('/boot/ipxe.efi', identity(content.length), again);
  t.is(again.reads, 1, 'read again once nobody held it');
  c!.release();
});

test('a rewritten file (another size or mtime) is a new entry; the transfers of the old one keep the old bytes', async (t) => {
  const files = new SharedFiles(1 << 20, 1 << 20);
  const old = randomBytes(100);
  const rewritten = randomBytes(100);
  const a = await files.acquire('/boot/kernel', identity(100, 1), fakeFile(old));
  const b = await files.acquire('/boot/kernel', identity(100, 2), fakeFile(rewritten));
  t.true(a!.bytes.equals(old));
  t.true(b!.bytes.equals(rewritten));
  t.is(files.held, 200);
  a!.release();
  b!.release();
  t.is(files.held, 0);
});

test('a file above the per-file limit, or one that would pass the total, is not held: undefined, the caller reads from disk', async (t) => {
  const files = new SharedFiles(1000, 1500);
  t.is(await files.acquire('/big', identity(1001), fakeFile(randomBytes(1001))), undefined);
  const a = await files.acquire('/a', identity(1000), fakeFile(randomBytes(1000)));
  t.truthy(a);
  t.is(await files.acquire('/b', { ...identity(600), ino: 8 }, fakeFile(randomBytes(600))), undefined, 'would hold 1600 of 1500');
  a!.release();
  const b = await files.acquire('/b', { ...identity(600), ino: 8 }, fakeFile(randomBytes(600)));
  t.truthy(b, 'fits once the first is released');
  b!.release();
});

test('a file that shrank while read rejects every transfer waiting for it and holds nothing', async (t) => {
  const files = new SharedFiles(1 << 20, 1 << 20);
  const content = randomBytes(5000);
  const cut = fakeFile(content, 3000);
  const results = await Promise.allSettled([files.acquire('/f', identity(5000), cut), files.acquire('/f', identity(5000), cut)]);
  t.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  t.regex(String((results[0] as PromiseRejectedResult).reason), /shrank/);
  t.is(files.held, 0);
});
