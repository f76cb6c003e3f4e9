/**
 * DNS fuzzing over the wire: 100 000 random and mutated datagrams at the site's DNS
 * service on loopback. Every answer must parse with dns-packet's decoder (independent of
 * the server's own codec) and with a strict walk of the wire format; the service must
 * keep answering, report no internal error, and not grow without bound.
 */
import test from 'ava';
import * as dnsPacket from 'dns-packet';
import { dig, labState, startDns } from '@sprout/test-support/dns-fixture.ts';
import { flood, fuzzSeed, heapUsed, MiB, mutate, prng } from './fuzz-kit.ts';

const packets = Number(process.env.SPROUT_FUZZ_PACKETS ?? 100_000);

function query(id: number, name: string, type: number, edns: boolean): Buffer {
  const labels = name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, edns ? 1 : 0]);
  const tail = Buffer.from([0, type >> 8, type & 0xff, 0, 1]);
  const opt = edns ? Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0);
  return Buffer.concat([header, ...labels, tail, opt]);
}

/** A strict reading of a DNS response: header, every section record by record, names bounded and pointing backwards, nothing left over. Null when well formed. */
function malformedDnsAnswer(buf: Buffer): string | null {
  if (buf.length < 12) return `shorter than a header (${buf.length})`;
  if (buf.length > 1232) return `a UDP answer of ${buf.length} bytes, over the EDNS payload size`;
  if (!(buf[2]! & 0x80)) return 'QR is not set';
  let off = 12;
  const name = (): string | null => {
    let at = off;
    let end = -1;
    let length = 0;
    for (let jumps = 0; ; ) {
      if (at >= buf.length) return 'a name runs past the end';
      const b = buf[at]!;
      if ((b & 0xc0) === 0xc0) {
        if (at + 1 >= buf.length) return 'a pointer cut short';
        const target = ((b & 0x3f) << 8) | buf[at + 1]!;
        if (target >= at) return `a compression pointer forwards or to itself (${target} at ${at})`;
        if (end < 0) end = at + 2;
        if (++jumps > 127) return 'a pointer loop';
        at = target;
        continue;
      }
      if (b & 0xc0) return `a reserved label type 0x${b.toString(16)}`;
      if (b === 0) {
        if (end < 0) end = at + 1;
        break;
      }
      length += b + 1;
      if (length > 255) return 'a name over 255 bytes';
      at += b + 1;
    }
    off = end;
    return null;
  };
  const [qd, an, ns, ar] = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o)) as [number, number, number, number];
  if (qd > 1) return `${qd} questions`;
  for (let i = 0; i < qd; i++) {
    const bad = name();
    if (bad) return `question: ${bad}`;
    off += 4;
    if (off > buf.length) return 'question cut short';
  }
  for (let i = 0; i < an + ns + ar; i++) {
    const bad = name();
    if (bad) return `record ${i}: ${bad}`;
    if (off + 10 > buf.length) return `record ${i} header cut short`;
    const rdlength = buf.readUInt16BE(off + 8);
    off += 10 + rdlength;
    if (off > buf.length) return `record ${i} data runs past the end`;
  }
  if (off !== buf.length) return `${buf.length - off} bytes after the last record`;
  return null;
}

test(`${packets} random and mutated DNS datagrams over loopback: every answer well formed, service intact, memory bounded`, async (t) => {
  t.timeout(120_000);
  t.log(`seed ${fuzzSeed} (SPROUT_FUZZ_SEED=${fuzzSeed} replays)`);
  const random = prng(fuzzSeed);
  const dns = await startDns(
    labState([
      ['node1', '198.18.40.10'],
      ['node2', '198.18.40.11'],
    ]),
  );
  const client = await flood();
  t.teardown(async () => {
    client.close();
    await dns.stop();
  });
  const names = [
    'node1.lab.example',
    'node2.lab.example',
    '10.40.18.198.in-addr.arpa',
    'lab.example',
    'x.example.org',
    'a.b.c.d.e.lab.example',
    '40.18.198.in-addr.arpa',
  ];
  const next = () => {
    const valid = query(random.int(0x10000), random.pick(names), random.pick([1, 2, 6, 12, 28, 33, 41, 251, 252, 255, 0, 65535]), random.next() < 0.5);
    return random.next() < 0.1 ? valid : mutate(random, valid, 600);
  };
  // Warm up, then measure from there: what stays after that is what the flood kept.
  await client.send(2_000, dns.port, next);
  const heapBefore = heapUsed();
  const rssBefore = process.memoryUsage().rss;
  await client.send(packets - 2_000, dns.port, next);
  const heapAfter = heapUsed();
  const rssAfter = process.memoryUsage().rss;

  let bad = 0;
  for (const { packet } of client.answers) {
    const strict = malformedDnsAnswer(packet);
    let parsed = true;
    try {
      dnsPacket.decode(packet);
    } catch {
      parsed = false;
    }
    if (strict || !parsed) {
      if (bad++ < 5) t.fail(`malformed answer (${strict ?? 'dns-packet could not decode it'}): ${packet.toString('hex')}`);
    }
  }
  const health = dns.service.health() as { queriesReceived: number; queriesAnswered: number; malformedQueries: number; errors: number };
  t.log(
    `${packets} datagrams sent, ${health.queriesReceived} received, ${client.answers.length} answers checked, ${health.malformedQueries} malformed queries (answered FORMERR, or dropped when shorter than a header); heap ${(heapBefore / MiB).toFixed(1)} → ${(heapAfter / MiB).toFixed(1)} MiB, rss ${(rssBefore / MiB).toFixed(0)} → ${(rssAfter / MiB).toFixed(0)} MiB`,
  );
  t.is(bad, 0);
  t.true(health.queriesReceived >= packets * 0.9, `the flood reached the server (${health.queriesReceived})`);
  t.true(client.answers.length > packets / 4, `enough answers to judge (${client.answers.length})`);
  t.is(health.errors, 0, JSON.stringify(dns.errors.slice(0, 3)));
  t.true(heapAfter - heapBefore < 64 * MiB, `heap grew by ${((heapAfter - heapBefore) / MiB).toFixed(1)} MiB`);
  t.true(rssAfter - rssBefore < 256 * MiB, `rss grew by ${((rssAfter - rssBefore) / MiB).toFixed(1)} MiB`);
  // Still serving, over UDP and TCP.
  t.is((await dig(dns.port, 'node1.lab.example', 'A')).status, 'NOERROR');
  t.is((await dig(dns.port, '+tcp', 'nope.lab.example', 'A')).status, 'NXDOMAIN');
});
