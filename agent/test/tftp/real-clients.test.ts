/** The TFTP service against clients nobody here wrote: curl and atftp, on loopback. */
import test from 'ava';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runClient, sha256File, startTftp, waitFor, writeRandomFile, type TftpFixture } from './helpers/tftp-fixture.ts';
import { readOverTftp } from './helpers/test-client.ts';

const twentyMegabytes = 20 * 1024 * 1024;
let server: TftpFixture;
let bigSha: string;

test.before(async () => {
  server = await startTftp();
  bigSha = writeRandomFile(join(server.root, 'big.img'), twentyMegabytes);
  mkdirSync(join(server.root, 'efi'));
  writeRandomFile(join(server.root, 'efi', 'ipxe.efi'), 300_000);
  writeFileSync(join(server.scratch, 'secret'), 'not for machines\n');
  symlinkSync(join(server.scratch, 'secret'), join(server.root, 'escape'));
});

test.after.always(async () => {
  await server?.close();
});

function curl(file: string, out: string, extra: string[] = []) {
  return runClient('curl', ['-s', '--path-as-is', ...extra, `tftp://127.0.0.1:${server.port}/${file}`, '-o', join(server.scratch, out)]);
}

for (const blksize of [512, 1468]) {
  test.serial(`curl fetches a 20 MB file intact with blksize ${blksize}`, async (t) => {
    const started = process.hrtime.bigint();
    const run = await curl('big.img', `big-${blksize}`, ['--tftp-blksize', String(blksize)]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    t.is(run.code, 0, run.stderr);
    t.is(sha256File(join(server.scratch, `big-${blksize}`)), bigSha);
    t.log(`curl blksize ${blksize}: ${(twentyMegabytes / 1024 / 1024 / seconds).toFixed(1)} MB/s`);
  });
}

test.serial('atftp fetches a 20 MB file intact with blksize 1468 and tsize', async (t) => {
  const out = join(server.scratch, 'big-atftp');
  const started = process.hrtime.bigint();
  const run = await runClient('atftp', ['--option', 'blksize 1468', '--option', 'tsize', '-g', '-r', 'big.img', '-l', out, '127.0.0.1', String(server.port)]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  t.is(run.code, 0, run.stderr + run.stdout);
  t.is(sha256File(out), bigSha);
  t.log(`atftp blksize 1468: ${(twentyMegabytes / 1024 / 1024 / seconds).toFixed(1)} MB/s`);
});

test.serial('ten curl downloads at once all arrive intact', async (t) => {
  const runs = await Promise.all(Array.from({ length: 10 }, (_, i) => curl('big.img', `parallel-${i}`, ['--tftp-blksize', '1468'])));
  for (const [i, run] of runs.entries()) {
    t.is(run.code, 0, `download ${i}: ${run.stderr}`);
    t.is(sha256File(join(server.scratch, `parallel-${i}`)), bigSha, `download ${i}`);
  }
});

for (const blksize of [512, 1468]) {
  test(`a file of exactly 3 × blksize ${blksize} ends with an empty block and arrives whole`, async (t) => {
    const name = `exact-${blksize}.bin`;
    const sha = writeRandomFile(join(server.root, name), 3 * blksize);
    const run = await curl(name, name, ['--tftp-blksize', String(blksize)]);
    t.is(run.code, 0, run.stderr);
    t.is(sha256File(join(server.scratch, name)), sha);
  });
}

test('a file in a subfolder and an empty file are served', async (t) => {
  writeFileSync(join(server.root, 'empty'), '');
  const sub = await curl('efi/ipxe.efi', 'ipxe.efi');
  t.is(sub.code, 0, sub.stderr);
  t.is(sha256File(join(server.scratch, 'ipxe.efi')), sha256File(join(server.root, 'efi', 'ipxe.efi')));
  const empty = await curl('empty', 'empty');
  t.is(empty.code, 0, empty.stderr);
  t.is(sha256File(join(server.scratch, 'empty')), sha256File(join(server.root, 'empty')));
});

// curl exits 69 for a TFTP access violation (error 2) and 68 for file not found (error 1).
test('../etc/passwd is refused with an access violation', async (t) => {
  const run = await curl('../etc/passwd', 'passwd-dotdot');
  t.is(run.code, 69);
  t.true(server.logs.some((l) => l.level === 'warn' && (l.o as { file?: string }).file === '../etc/passwd'));
});

test('an absolute path outside the root is refused with an access violation', async (t) => {
  const run = await curl('/etc/passwd', 'passwd-absolute');
  t.is(run.code, 69);
  t.true(server.logs.some((l) => (l.o as { file?: string }).file === '/etc/passwd'));
});

test('a symlink out of the root is refused with an access violation', async (t) => {
  const run = await curl('escape', 'escape');
  t.is(run.code, 69);
});

test('a missing file is answered with file not found', async (t) => {
  const run = await curl('pxelinux.cfg/01-52-54-00-12-34-56', 'missing');
  t.is(run.code, 68);
});

test('at maxTransfers curl is not refused: its resent request is served once the running transfer ends', async (t) => {
  const busy = await startTftp({ maxTransfers: 1, timeoutMs: 300, retries: 2 });
  t.teardown(() => busy.close());
  const sha = writeRandomFile(join(busy.root, 'undionly.kpxe'), 70_000);
  // Our own reader takes the only slot and stops acknowledging; the server gives up on it after ~900 ms.
  const stalled = readOverTftp({ port: busy.port, filename: 'undionly.kpxe', stopAckingAfter: 0 });
  await waitFor(() => busy.service.health().activeTransfers === 1);
  // --connect-timeout 5 makes curl resend an unanswered request every ~1.7 s.
  const out = join(busy.scratch, 'after-busy');
  const run = await runClient('curl', ['-s', '--connect-timeout', '5', `tftp://127.0.0.1:${busy.port}/undionly.kpxe`, '-o', out]);
  await stalled;
  t.is(run.code, 0, run.stderr);
  t.is(sha256File(out), sha);
  const health = busy.service.health() as { deferredRequests: number; refusedRequests: number };
  t.true(health.deferredRequests >= 1, "curl's first request waited");
  t.is(health.refusedRequests, 0);
});
