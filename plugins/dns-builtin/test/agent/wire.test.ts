/**
 * The plugin's DNS codec reading queries: what dns-packet (an independent encoder) writes
 * reads back field for field, compressed names are followed, and every way a message can
 * be malformed (loops, cut short, counts that lie, names too long) is caught — FORMERR
 * when the header can be read, dropped when it cannot.
 */
import test from 'ava';
import * as dnsPacket from 'dns-packet';
import { decodeQuery, isUnreadable, readName, type Query, type Unreadable } from '../../src/agent/wire.ts';

const encode = (packet: dnsPacket.Packet) => dnsPacket.encode(packet);

function readable(t: { fail(message: string): void }, decoded: Query | Unreadable): Query {
  if (isUnreadable(decoded)) {
    t.fail(`unreadable: ${decoded.reason}`);
    throw new Error(decoded.reason);
  }
  return decoded;
}

/** A header asking one question, then the given bytes. */
function withHeader(rest: number[], counts: [qd: number, an: number, ns: number, ar: number] = [1, 0, 0, 0]): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0xabcd, 0);
  header[2] = 0x01;
  counts.forEach((count, i) => header.writeUInt16BE(count, 4 + 2 * i));
  return Buffer.concat([header, Buffer.from(rest)]);
}

test('a query written by dns-packet reads back: id, RD, opcode, question, and the OPT record with its payload size', (t) => {
  const message = encode({
    type: 'query',
    id: 0x4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'PTR', class: 'IN', name: '10.40.18.198.in-addr.arpa' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0 } as dnsPacket.Answer],
  });
  const query = readable(t, decodeQuery(message));
  t.deepEqual(query.header, { id: 0x4242, qr: 0, opcode: 0, rd: 1, qdcount: 1 });
  t.deepEqual(query.questions, [{ name: '10.40.18.198.in-addr.arpa', type: 12, class: 1 }]);
  t.deepEqual(query.additionals, [{ type: 41, class: 4096 }]);
});

test('a compressed name is followed back to the labels it points at', (t) => {
  // Two questions: the second is "www" then a pointer to the first name (offset 12).
  const first = [4, ...Buffer.from('node'), 3, ...Buffer.from('lab'), 0, 0, 1, 0, 1];
  const second = [3, ...Buffer.from('www'), 0xc0, 12, 0, 1, 0, 1];
  const query = readable(t, decodeQuery(withHeader([...first, ...second], [2, 0, 0, 0])));
  t.deepEqual(
    query.questions.map((q) => q.name),
    ['node.lab', 'www.node.lab'],
  );
  t.is(readName(withHeader([...first, ...second], [2, 0, 0, 0]), 12 + first.length).end, 12 + first.length + 6);
});

test('compression pointer loops are rejected: a pointer to itself, forwards, or past the end', (t) => {
  const cases: [string, number[]][] = [
    ['to itself', [0xc0, 12, 0, 1, 0, 1]],
    ['forwards', [0xc0, 14, 0xc0, 12, 0, 1, 0, 1]],
    ['past the end', [0xc0, 0xff, 0, 1, 0, 1]],
    ['cut in half', [0xc0]],
  ];
  for (const [what, bytes] of cases) {
    const decoded = decodeQuery(withHeader(bytes));
    t.true(isUnreadable(decoded), what);
    t.is((decoded as Unreadable).unreadable, 'formerr', what);
    t.is((decoded as Unreadable).header?.id, 0xabcd, what);
  }
  // A loop of backward pointers (label "a", then a pointer back to it) repeats "a." until the 255-octet limit stops it.
  const loop = [1, 0x61, 0xc0, 12, 0, 1, 0, 1];
  t.regex((decodeQuery(withHeader(loop)) as Unreadable).reason, /longer than 255 octets/);
  t.is((decodeQuery(withHeader(loop)) as Unreadable).unreadable, 'formerr');
});

test('messages cut short, counts that promise more, long names and stray bytes are FORMERR; less than a header is dropped', (t) => {
  const valid = encode({ type: 'query', id: 7, questions: [{ type: 'A', class: 'IN', name: 'node1.lab.example' }] });
  for (let length = 12; length < valid.length; length++) {
    const decoded = decodeQuery(valid.subarray(0, length));
    t.true(isUnreadable(decoded) && decoded.unreadable === 'formerr', `cut at ${length}`);
  }
  for (let length = 0; length < 12; length++) t.is((decodeQuery(valid.subarray(0, length)) as Unreadable).unreadable, 'drop', `cut at ${length}`);

  const lying = Buffer.from(valid);
  lying.writeUInt16BE(1, 10); // one additional record that is not there
  t.regex((decodeQuery(lying) as Unreadable).reason, /runs past the end/);
  t.regex((decodeQuery(Buffer.concat([valid, Buffer.from([0])])) as Unreadable).reason, /1 octets after the last record/);

  const long = withHeader([...Array.from({ length: 5 }, () => [63, ...Buffer.alloc(63, 0x61)]).flat(), 0, 0, 1, 0, 1]);
  t.regex((decodeQuery(long) as Unreadable).reason, /longer than 255 octets/);
  t.regex((decodeQuery(withHeader([0x40, 0, 0, 1, 0, 1])) as Unreadable).reason, /label type 0x40/);

  const twoOpts = encode({
    type: 'query',
    id: 9,
    questions: [{ type: 'A', class: 'IN', name: 'lab.example' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as dnsPacket.Answer, { type: 'OPT', name: '.', udpPayloadSize: 512 } as dnsPacket.Answer],
  });
  t.regex((decodeQuery(twoOpts) as Unreadable).reason, /more than one OPT/);
});
