/**
 * The precomputed answers, decoded with dns-packet (an independent decoder, not the
 * plugin's codec): what a resolver would read for nested zones, empty non-terminals,
 * rejected records, EDNS and UDP truncation.
 */
import test from 'ava';
import * as dnsPacket from 'dns-packet';
import type { SiteDesiredState } from '@sprout/kernel';
import { AnswerTable, type Query } from '../../src/agent/answer-table.ts';
import { parseDnsSettings } from '../../src/agent/settings.ts';
import { zonesFor } from '../../src/agent/zones.ts';
import { labState, siteId } from '@sprout/test-support/dns-fixture.ts';

function tableFor(state: SiteDesiredState, settings: Record<string, unknown> = {}, serial = 7): AnswerTable {
  return new AnswerTable(zonesFor(state, parseDnsSettings(settings)), serial);
}

function ask(name: string, type: number, options: { id?: number; rd?: number; opcode?: number; qr?: number; edns?: number } = {}): Query {
  return {
    header: { id: options.id ?? 0x1234, qr: options.qr ?? 0, opcode: options.opcode ?? 0, rd: options.rd ?? 1, qdcount: 1 },
    questions: [{ name, type, class: 1 }],
    additionals: options.edns ? [{ type: 41, class: options.edns }] : [],
  };
}

function decode(table: AnswerTable, query: Query, transport: 'udp' | 'tcp' = 'udp') {
  const answer = table.respond(query, transport);
  if (!answer) throw new Error('no answer');
  return parse(answer.message);
}

/** dns-packet's decoding, with the header fields under `header` as the assertions read them. */
function parse(message: Buffer) {
  const packet = dnsPacket.decode(message);
  const flags = packet.flags ?? 0;
  return {
    ...packet,
    // dns-packet reports QR as the type ('response') and leaves it out of flags.
    header: {
      id: packet.id,
      qr: packet.type === 'response' ? 1 : 0,
      aa: (flags >> 10) & 1,
      tc: (flags >> 9) & 1,
      rd: (flags >> 8) & 1,
      ra: (flags >> 7) & 1,
      rcode: flags & 0xf,
    },
    questions: packet.questions ?? [],
    answers: packet.answers ?? [],
    authorities: packet.authorities ?? [],
    additionals: packet.additionals ?? [],
  };
}

const Packet = {
  TYPE: { A: 1, NS: 2, SOA: 6, PTR: 12, AXFR: 252, ANY: 255, EDNS: 41 },
  RCODE: { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 },
};

const a = (name: string, value: string) => ({ siteId, zone: 'lab.example', name, type: 'A' as const, value });

test('the answer carries the query id and RD, AA set, RA clear', (t) => {
  const reply = decode(tableFor(labState([['node1', '198.18.40.10']])), ask('node1.lab.example', Packet.TYPE.A, { id: 0xbeef, rd: 1 }));
  t.like(reply.header, { id: 0xbeef, qr: 1, aa: 1, rd: 1, ra: 0, rcode: 0 });
  t.deepEqual(
    reply.answers.map((rr) => [rr.name, (rr as { ttl?: number }).ttl, (rr as { data?: unknown }).data]),
    [['node1.lab.example', 300, '198.18.40.10']],
  );
  const withoutRd = decode(tableFor(labState([['node1', '198.18.40.10']])), ask('node1.lab.example', Packet.TYPE.A, { rd: 0 }));
  t.is(withoutRd.header.rd, 0);
});

test('a name between a record and its zone apex exists: no data, not NXDOMAIN', (t) => {
  const table = tableFor({ networks: [], dnsRecords: [a('web.rack1.lab.example', '198.18.40.20')] });
  const between = decode(table, ask('rack1.lab.example', Packet.TYPE.A));
  t.is(between.header.rcode, Packet.RCODE.NOERROR);
  t.is(between.answers.length, 0);
  t.is(between.authorities[0].type, 'SOA');
  t.is(between.questions[0].type, 'A');
  t.is(decode(table, ask('rack2.lab.example', Packet.TYPE.A)).header.rcode, Packet.RCODE.NXDOMAIN);
});

test('the longest served zone answers for a name', (t) => {
  const state: SiteDesiredState = {
    networks: [
      { id: 'n1', name: 'outer', cidr: '198.18.0.0/24', gateway: '198.18.0.1', dnsServers: [], domain: 'example', vlan: null, pxe: false, ranges: [] },
      { id: 'n2', name: 'inner', cidr: '198.18.40.0/24', gateway: '198.18.40.1', dnsServers: [], domain: 'lab.example', vlan: null, pxe: false, ranges: [] },
    ],
    dnsRecords: [],
  };
  const missing = decode(tableFor(state), ask('x.lab.example', Packet.TYPE.A));
  t.is(missing.header.rcode, Packet.RCODE.NXDOMAIN);
  t.is(missing.authorities[0].name, 'lab.example');
  t.is(decode(tableFor(state), ask('y.example', Packet.TYPE.A)).authorities[0].name, 'example');
});

test('records that are not valid A/PTR inside their zone are set aside, the rest served', (t) => {
  const set = zonesFor(
    {
      dnsRecords: [
        a('good.lab.example', '198.18.40.10'),
        a('elsewhere.example.org', '198.18.40.11'),
        a('bad.lab.example', 'not-an-address'),
        { siteId, zone: 'lab.example', name: 'txt.lab.example', type: 'TXT' as 'A', value: 'x' },
      ],
    },
    parseDnsSettings({}),
  );
  t.deepEqual(
    set.records.map((r) => r.name),
    ['good.lab.example'],
  );
  t.deepEqual(
    set.rejected.map((r) => r.reason),
    ['elsewhere.example.org is not inside zone lab.example', '"not-an-address" is not an IPv4 address', '"TXT" is not a record type the agent serves (A, PTR)'],
  );
});

test('over UDP an answer larger than 512 octets is truncated; EDNS raises the limit; TCP carries all', (t) => {
  const many = Array.from({ length: 70 }, (_, i) => a('pool.lab.example', `198.18.40.${i + 1}`));
  const table = tableFor({ dnsRecords: many });
  const udp = table.respond(ask('pool.lab.example', Packet.TYPE.A), 'udp')!;
  t.true(udp.truncated);
  t.true(udp.message.length <= 512);
  const truncated = parse(udp.message);
  t.like(truncated.header, { tc: 1, id: 0x1234 });
  t.is(truncated.answers.length, 0);
  t.is(truncated.questions[0].name, 'pool.lab.example');

  const edns = parse(table.respond(ask('pool.lab.example', Packet.TYPE.A, { edns: 4096 }), 'udp')!.message);
  t.is(edns.header.tc, 0);
  t.is(edns.answers.length, 70);
  t.is((edns.additionals.find((rr) => rr.type === 'OPT') as { udpPayloadSize?: number } | undefined)?.udpPayloadSize, 1232);

  t.is(decode(table, ask('pool.lab.example', Packet.TYPE.A), 'tcp').answers.length, 70);
});

test('responses, other opcodes, other classes, transfers and bad question counts get no normal answer', (t) => {
  const table = tableFor(labState([['node1', '198.18.40.10']]));
  t.is(table.respond(ask('node1.lab.example', Packet.TYPE.A, { qr: 1 }), 'udp'), undefined);
  t.is(decode(table, ask('node1.lab.example', Packet.TYPE.A, { opcode: 2 })).header.rcode, Packet.RCODE.NOTIMP);
  t.is(decode(table, { ...ask('node1.lab.example', 1), questions: [{ name: 'node1.lab.example', type: 1, class: 3 }] }).header.rcode, Packet.RCODE.REFUSED);
  t.is(decode(table, ask('lab.example', Packet.TYPE.AXFR), 'tcp').header.rcode, Packet.RCODE.REFUSED);
  const none = decode(table, { ...ask('x', 1), questions: [], header: { id: 1, qr: 0, opcode: 0, rd: 0, qdcount: 0 } });
  t.is(none.header.rcode, Packet.RCODE.FORMERR);
  t.is(none.questions.length, 0);
});

test('ANY returns every record at the name', (t) => {
  const reply = decode(tableFor(labState([['node1', '198.18.40.10']])), ask('lab.example', Packet.TYPE.ANY));
  t.deepEqual(reply.answers.map((rr) => rr.type).sort(), ['NS', 'SOA']);
});

test('an answer found from the raw query bytes is byte for byte the parsed answer, in any spelling, with and without EDNS', (t) => {
  const names = Array.from({ length: 60 }, (_, i) => [`node${i}`, `198.18.40.${i + 1}`] as [string, string]);
  const table = tableFor(labState(names));
  const raw = (name: string, type: number, id: number, rd: number, edns: number | undefined) =>
    dnsPacket.encode({
      type: 'query',
      id,
      flags: rd ? dnsPacket.RECURSION_DESIRED : 0,
      questions: [{ type: ({ 1: 'A', 2: 'NS', 6: 'SOA', 12: 'PTR', 255: 'ANY' } as const)[type as 1 | 2 | 6 | 12 | 255] as dnsPacket.RecordType, name }],
      additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: edns } as dnsPacket.Answer] : [],
    });
  const spellings = (name: string) => [name, name.toUpperCase(), name.replace(/[a-z]/g, (c, i) => (i % 2 ? c.toUpperCase() : c))];
  let fast = 0;
  let compared = 0;
  const questions = [
    ...names.flatMap(([n]) => [
      [`${n}.lab.example`, Packet.TYPE.A],
      [`${n}.lab.example`, Packet.TYPE.ANY],
    ]),
    ['lab.example', Packet.TYPE.SOA],
    ['lab.example', Packet.TYPE.NS],
    // Not in the table (same length as a served name, or none at all): no raw answer, the parsed path answers.
    ['nodeX.lab.example', Packet.TYPE.A],
    ['node1.lab.example', Packet.TYPE.PTR],
    ['elsewhere.test', Packet.TYPE.A],
  ] as [string, number][];
  for (const [name, type] of questions) {
    for (const spelled of spellings(name)) {
      for (const edns of [undefined, 512, 1232, 4096]) {
        const id = (compared * 7919) & 0xffff;
        const rd = compared % 2;
        compared += 1;
        const quick = table.respondToUdpWire(raw(spelled, type, id, rd, edns));
        const slow = table.respond(ask(spelled, type, { id, rd, edns }), 'udp');
        if (!quick) continue;
        fast += 1;
        t.truthy(slow);
        t.true(quick.message.equals(slow!.message), `${spelled} type ${type} EDNS ${edns}`);
        t.is(quick.rcode, slow!.rcode);
        t.false(quick.truncated);
      }
    }
  }
  t.is(fast, (names.length * 2 + 2) * 3 * 4, 'every served name and type took the raw path, and nothing else did');
});
