/**
 * A flood of random and mutated datagrams must not stop the DNS service: each packet is
 * answered, refused or dropped, and a valid query is still answered afterwards.
 * The generator is seeded, so a failure replays exactly.
 */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import test from 'ava';
import { dig, digShort, labState, startDns } from '@sprout/test-support/dns-fixture.ts';

/** mulberry32: small, seeded, good enough to pick bytes. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function query(id: number, name: string, type: number, edns: boolean): Buffer {
  const labels = name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, edns ? 1 : 0]);
  const tail = Buffer.from([0, type >> 8, type & 0xff, 0, 1]);
  const opt = edns ? Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0);
  return Buffer.concat([header, ...labels, tail, opt]);
}

function mutatedPacket(random: () => number): Buffer {
  const int = (n: number) => Math.floor(random() * n);
  const valid = query(
    int(0x10000),
    ['node1.lab.example', '11.40.18.198.in-addr.arpa', 'lab.example', 'x.example.org'][int(4)],
    [1, 2, 6, 12, 28, 255, 252][int(7)],
    random() < 0.5,
  );
  switch (int(6)) {
    case 0: // noise of any length up to a full datagram
      return Buffer.from(Array.from({ length: int(513) }, () => int(256)));
    case 1: {
      // a few flipped bytes
      const packet = Buffer.from(valid);
      for (let i = 0, n = 1 + int(8); i < n; i++) packet[int(packet.length)] = int(256);
      return packet;
    }
    case 2: // cut short anywhere, header included
      return valid.subarray(0, int(valid.length));
    case 3: {
      // counts that promise far more than the packet holds
      const packet = Buffer.from(valid);
      for (const offset of [4, 6, 8, 10]) if (random() < 0.5) packet.writeUInt16BE(int(0x10000), offset);
      return packet;
    }
    case 4: {
      // a compression pointer into itself or past the end, in place of the question name
      const packet = Buffer.from(valid);
      packet.writeUInt16BE(0xc000 | [12, 13, 0x3fff, int(packet.length)][int(4)], 12);
      return packet;
    }
    default: {
      // header bits scrambled: responses, other opcodes, other classes
      const packet = Buffer.from(valid);
      packet[2] = int(256);
      packet[3] = int(256);
      if (random() < 0.3) packet.writeUInt16BE(int(0x10000), packet.length - (valid[11] ? 13 : 2));
      return packet;
    }
  }
}

test('20 000 random and mutated datagrams do not stop the server', async (t) => {
  const dns = await startDns(
    labState([
      ['node1', '198.18.40.10'],
      ['node2', '198.18.40.11'],
    ]),
  );
  const socket = createSocket('udp4');
  t.teardown(async () => {
    socket.close();
    await dns.stop();
  });
  const random = seeded(0x5eed_d115);
  for (let i = 0; i < 20_000; i++) {
    await new Promise<void>((resolve) => socket.send(mutatedPacket(random), dns.port, '127.0.0.1', () => resolve()));
    // Let the server drain now and then, so the flood is not all lost in the socket buffer.
    if (i % 25 === 24) await new Promise((resolve) => setTimeout(resolve, 1));
  }

  t.deepEqual(await digShort(dns.port, 'node1.lab.example', 'A'), ['198.18.40.10']);
  t.is((await dig(dns.port, '+tcp', 'nope.lab.example', 'A')).status, 'NXDOMAIN');
  const health = dns.service.health() as {
    queriesReceived: number;
    malformedQueries: number;
    queriesAnswered: number;
    responsesIgnored: number;
    errors: number;
  };
  // The pacing keeps loopback from dropping much, so the flood really reached the parser and the answer table.
  t.true(health.queriesReceived >= 19_000, `received: ${health.queriesReceived}`);
  t.true(health.malformedQueries > 500, `malformed: ${health.malformedQueries}`);
  t.true(health.responsesIgnored > 500, `ignored: ${health.responsesIgnored}`);
  t.true(health.queriesAnswered > 10_000, `answered: ${health.queriesAnswered}`);
  t.is(health.errors, 0, JSON.stringify(dns.errors));
});

test('garbage, cut-off frames and pipelined queries over TCP leave the server answering', async (t) => {
  const dns = await startDns(labState([['node1', '198.18.40.10']]));
  t.teardown(() => dns.stop());
  const random = seeded(0x7c9);
  const exchange = (payload: Buffer) =>
    new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const socket = connect(dns.port, '127.0.0.1', () => socket.end(payload));
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(Buffer.concat(chunks)));
    });
  for (let i = 0; i < 200; i++) {
    const packet = mutatedPacket(random);
    const length = Buffer.alloc(2);
    // Sometimes the length prefix promises more than follows: the frame is cut off.
    length.writeUInt16BE(random() < 0.2 ? packet.length + 1 + Math.floor(random() * 100) : packet.length);
    await exchange(Buffer.concat([length, packet]));
  }
  // Two pipelined queries on one connection get two length-prefixed answers.
  const frame = (q: Buffer) => Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]);
  const replies = await exchange(Buffer.concat([frame(query(1, 'node1.lab.example', 1, false)), frame(query(2, 'lab.example', 6, false))]));
  const first = replies.readUInt16BE(0);
  t.deepEqual([replies.readUInt16BE(2), replies.readUInt16BE(2 + first + 2)].sort(), [1, 2]);
  t.deepEqual(await digShort(dns.port, '+tcp', 'node1.lab.example', 'A'), ['198.18.40.10']);
  t.is((dns.service.health() as { errors: number }).errors, 0, JSON.stringify(dns.errors));
});
