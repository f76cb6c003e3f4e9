/** The TFTP service with one transfer worker process (settings `workers`), against curl and atftp. */
import test from 'ava';
import { join } from 'node:path';
import { encodeRequest } from '../../src/services/tftp/packets.ts';
import { openPeer } from './helpers/test-client.ts';
import { runClient, sha256File, startTftp, waitFor, writeRandomFile, type TftpFixture } from './helpers/tftp-fixture.ts';

const eightMegabytes = 8 * 1024 * 1024;
let server: TftpFixture;
let bigSha: string;

interface WorkerHealth {
  pid: number;
  ready: boolean;
  activeTransfers: number;
  finishedTransfers: number;
}
const health = () => server.service.health() as { workers: WorkerHealth[]; completedTransfers: number; failedTransfers: number };
const worker = () => health().workers[0];

test.before(async () => {
  server = await startTftp({ workers: 1 });
  bigSha = writeRandomFile(join(server.root, 'big.img'), eightMegabytes);
});

test.after.always(async () => {
  await server?.close();
});

function curl(out: string, blksize: number, extra: string[] = []) {
  return runClient('curl', ['-sS', ...extra, '--tftp-blksize', String(blksize), `tftp://127.0.0.1:${server.port}/big.img`, '-o', join(server.scratch, out)]);
}

function atftp(out: string) {
  return runClient('atftp', [
    '--option',
    'blksize 1468',
    '--option',
    'tsize',
    '-g',
    '-r',
    'big.img',
    '-l',
    join(server.scratch, out),
    '127.0.0.1',
    String(server.port),
  ]);
}

test.serial('the worker starts with the service and is not the agent', (t) => {
  t.is(health().workers.length, 1);
  t.true(worker().ready);
  t.not(worker().pid, process.pid);
});

test.serial('a single curl and a single atftp transfer run in the worker and arrive intact', async (t) => {
  const before = worker().finishedTransfers;
  for (const blksize of [512, 1468]) {
    const run = await curl(`single-${blksize}`, blksize);
    t.is(run.code, 0, run.stderr);
    t.is(sha256File(join(server.scratch, `single-${blksize}`)), bigSha);
  }
  const run = await atftp('single-atftp');
  t.is(run.code, 0, run.stderr + run.stdout);
  t.is(sha256File(join(server.scratch, 'single-atftp')), bigSha);
  // One transfer at a time: each goes to the idle worker, none to the agent's process.
  await waitFor(() => worker().finishedTransfers === before + 3);
  t.is(worker().finishedTransfers, before + 3);
});

test.serial('six transfers at once, curl and atftp, are shared between the worker and the agent and all arrive intact', async (t) => {
  const before = { worker: worker().finishedTransfers, completed: health().completedTransfers };
  const runs = await Promise.all([
    ...Array.from({ length: 4 }, (_, i) => curl(`parallel-${i}`, i % 2 === 0 ? 512 : 1468)),
    atftp('parallel-4'),
    atftp('parallel-5'),
  ]);
  for (const [i, run] of runs.entries()) {
    t.is(run.code, 0, `download ${i}: ${run.stderr}${run.stdout}`);
    t.is(sha256File(join(server.scratch, `parallel-${i}`)), bigSha, `download ${i}`);
  }
  await waitFor(() => health().completedTransfers === before.completed + 6);
  const inWorker = worker().finishedTransfers - before.worker;
  t.true(inWorker >= 1 && inWorker <= 5, `${inWorker} of 6 ran in the worker`);
});

test.serial('a killed worker fails its transfer, is replaced, and the next transfer succeeds in the new one', async (t) => {
  const failedBefore = health().failedTransfers;
  const old = worker().pid;
  // A client that takes block 1 and never acknowledges it: the transfer stays in the worker (it retransmits for 3 s).
  const client = await openPeer();
  t.teardown(() => client.close());
  client.send(encodeRequest('RRQ', 'big.img', 'octet'), server.port);
  t.like((await client.next()).packet, { op: 'DATA', block: 1 });
  t.is(worker().activeTransfers, 1);
  process.kill(old, 'SIGKILL');
  await waitFor(() => health().failedTransfers === failedBefore + 1);
  await waitFor(() => health().workers.length === 1 && worker().pid !== old && worker().ready, 15_000);
  t.true(server.logs.some((l) => l.level === 'warn' && String(l.m).includes(`worker ${old} exited`)));

  const run = await curl('after-kill', 1468);
  t.is(run.code, 0, run.stderr);
  t.is(sha256File(join(server.scratch, 'after-kill')), bigSha);
  await waitFor(() => worker().finishedTransfers === 1);
  t.is(worker().finishedTransfers, 1);
});

test.serial('stop ends the workers: no process is left', async (t) => {
  const pids = health().workers.map((w) => w.pid);
  t.is(pids.length, 1);
  await server.service.stop();
  for (const pid of pids) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
});
