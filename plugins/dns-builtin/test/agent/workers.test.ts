/**
 * The DNS service with UDP workers (settings `workers`): child processes reading the
 * agent's socket answer `dig` like the agent itself, take every new desired state,
 * count into the agent's health, and are gone when the service stops. Also what a
 * client sees for a query the codec cannot read: FORMERR with its id.
 */
import { createSocket } from 'node:dgram';
import test from 'ava';
import { dig, digShort, labState, startDns } from '@sprout/test-support/dns-fixture.ts';

interface Health {
  serial: number;
  queriesAnswered: number;
  malformedQueries: number;
  errors: number;
  workers?: { pid: number; serial: number | undefined }[];
}

async function until<T>(read: () => T, done: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gave up waiting for ${what}: ${JSON.stringify(read())}`);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('two UDP workers and the agent answer alike, take a new desired state, and stop with the service', async (t) => {
  const dns = await startDns(labState([['node1', '198.18.40.10']]), { settings: { workers: 2 } });
  t.teardown(() => dns.stop());
  const health = () => dns.service.health() as unknown as Health;
  const pids = health().workers!.map((w) => w.pid);
  t.is(pids.length, 2);
  // Ready means every worker has the table.
  t.deepEqual(
    health().workers!.map((w) => w.serial),
    [health().serial, health().serial],
  );

  const answers = await Promise.all(Array.from({ length: 30 }, () => digShort(dns.port, 'node1.lab.example', 'A')));
  t.deepEqual(new Set(answers.flat()), new Set(['198.18.40.10']));
  // Every answer is counted once, whichever process gave it.
  await until(health, (h) => h.queriesAnswered === 30, '30 answers counted');
  t.log(`answers per worker: ${(dns.service.health() as { workers: { queriesAnswered: number }[] }).workers.map((w) => w.queriesAnswered).join(', ')} of 30`);

  dns.publish(labState([['node1', '198.18.40.20']]));
  const serial = health().serial;
  await until(health, (h) => h.workers!.every((w) => w.serial === serial), 'the workers on the new serial');
  const after = await Promise.all(Array.from({ length: 30 }, () => digShort(dns.port, 'node1.lab.example', 'A')));
  t.deepEqual(new Set(after.flat()), new Set(['198.18.40.20']));
  t.is((await dig(dns.port, '+tcp', 'node1.lab.example', 'A')).answer[0][4], '198.18.40.20');
  t.is(health().errors, 0, JSON.stringify(dns.errors));

  await dns.stop();
  t.deepEqual(pids.filter(alive), []);
});

test('a query cut short after its header is answered FORMERR with its id; one shorter than a header is not answered', async (t) => {
  const dns = await startDns(labState([['node1', '198.18.40.10']]));
  const socket = createSocket('udp4');
  t.teardown(async () => {
    socket.close();
    await dns.stop();
  });
  const replies: Buffer[] = [];
  socket.on('message', (m) => replies.push(m));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  // id 0x1234, RD, one question whose name stops after "node1".
  socket.send(Buffer.from([0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, ...Buffer.from('node1')]), dns.port, '127.0.0.1');
  socket.send(Buffer.from([0x56, 0x78, 0x01]), dns.port, '127.0.0.1');
  await until(
    () => (dns.service.health() as unknown as Health).malformedQueries,
    (n) => n === 2,
    'both datagrams read',
  );
  await until(
    () => replies.length,
    (n) => n >= 1,
    'a reply',
  );
  t.is(replies.length, 1);
  const [reply] = replies;
  t.is(reply.readUInt16BE(0), 0x1234);
  t.is(reply[2], 0x81); // QR and RD
  t.is(reply[3] & 0xf, 1); // FORMERR
  t.is(reply.length, 12);
});
