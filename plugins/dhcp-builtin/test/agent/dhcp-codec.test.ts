/** The DHCPv4 codec: header fields and options to and from the wire, and the packets it refuses. */
import test from 'ava';
import {
  blankMessage,
  bootReply,
  clientMac,
  decodeDhcp,
  encodeDhcp,
  MalformedDhcpPacket,
  messageType,
  opt,
  readOption,
  type MalformedReason,
} from '../../src/agent/dhcp-codec.ts';

/** A DISCOVER written out byte by byte as a client would send it (not by our encoder). */
function handWrittenDiscover(): Buffer {
  const header = Buffer.alloc(236);
  header.set([1, 1, 6, 0], 0);
  header.writeUInt32BE(0xdeadbeef, 4);
  header.writeUInt16BE(3, 8);
  header.writeUInt16BE(0x8000, 10);
  header.set([0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc], 28);
  const cookie = Buffer.from([99, 130, 83, 99]);
  const options = Buffer.from([53, 1, 1, 0, 0, 55, 3, 1, 3, 6, 93, 2, 0, 7, 60, 9, ...Buffer.from('PXEClient'), 255, 0, 0, 0]);
  return Buffer.concat([header, cookie, options]);
}

test('decodes a hand-written DISCOVER: header fields, pads skipped, options by code', (t) => {
  const m = decodeDhcp(handWrittenDiscover());
  t.is(m.op, 1);
  t.is(m.xid, 0xdeadbeef);
  t.is(m.secs, 3);
  t.is(m.flags, 0x8000);
  t.is(m.ciaddr, '0.0.0.0');
  t.is(clientMac(m), '52:54:00:aa:bb:cc');
  t.is(messageType(m), 1);
  t.deepEqual([...m.options.keys()], [53, 55, 93, 60]);
  t.deepEqual(readOption.u16List(m.options.get(opt.clientArch)), [7]);
  t.is(readOption.text(m.options.get(opt.vendorClass)), 'PXEClient');
});

test('encode → decode keeps every field; long options are split and rejoined (RFC 3396)', (t) => {
  const m = blankMessage(bootReply);
  m.xid = 42;
  m.flags = 0x8000;
  m.yiaddr = '198.18.30.11';
  m.siaddr = '198.18.30.1';
  m.giaddr = '198.19.40.1';
  m.chaddr = Buffer.from('525400000001' + '00'.repeat(10), 'hex');
  m.sname = 'boot-server';
  m.file = 'undionly.kpxe';
  const long = Buffer.alloc(600, 7);
  m.options.set(opt.messageType, Buffer.from([2]));
  m.options.set(opt.router, Buffer.from([198, 18, 30, 254]));
  m.options.set(opt.relayAgentInfo, long);
  const wire = encodeDhcp(m);
  t.true(wire.length >= 300, 'padded to the BOOTP minimum');
  const back = decodeDhcp(wire);
  t.like(back, {
    op: 2,
    xid: 42,
    flags: 0x8000,
    yiaddr: '198.18.30.11',
    siaddr: '198.18.30.1',
    giaddr: '198.19.40.1',
    sname: 'boot-server',
    file: 'undionly.kpxe',
  });
  t.deepEqual(back.chaddr, m.chaddr);
  t.deepEqual(back.options.get(opt.relayAgentInfo), long);
  t.is(readOption.address(back.options.get(opt.router)), '198.18.30.254');
  // 600 bytes need three option instances of at most 255.
  let instances = 0;
  for (let at = 240; wire[at] !== 255; at += 2 + wire[at + 1]!) if (wire[at] === opt.relayAgentInfo) instances += 1;
  t.is(instances, 3);
});

test('encode refuses what the wire cannot carry', (t) => {
  const m = blankMessage(bootReply);
  m.file = 'x'.repeat(128);
  t.throws(() => encodeDhcp(m), { instanceOf: TypeError });
  const n = blankMessage(bootReply);
  n.yiaddr = '300.1.1.1';
  t.throws(() => encodeDhcp(n), { instanceOf: TypeError });
  const o = blankMessage(bootReply);
  o.options.set(255, Buffer.alloc(1));
  t.throws(() => encodeDhcp(o), { instanceOf: TypeError });
});

const malformed: [string, (good: Buffer) => Buffer, MalformedReason][] = [
  ['empty', () => Buffer.alloc(0), 'too-short'],
  ['header only', (g) => g.subarray(0, 239), 'too-short'],
  ['op 3', (g) => Buffer.from(g).fill(3, 0, 1), 'bad-op'],
  ['hlen 17', (g) => Buffer.from(g).fill(17, 2, 3), 'bad-hlen'],
  ['no magic cookie', (g) => Buffer.from(g).fill(0, 236, 240), 'bad-cookie'],
  ['option length past the end', (g) => Buffer.concat([g.subarray(0, 240), Buffer.from([12, 50, 65, 66])]), 'option-truncated'],
  ['option without length byte', (g) => Buffer.concat([g.subarray(0, 240), Buffer.from([53, 1, 1, 12])]), 'option-truncated'],
  ['no END option', (g) => Buffer.concat([g.subarray(0, 240), Buffer.from([53, 1, 1, 0, 0])]), 'no-end-option'],
  ['message type 9', (g) => Buffer.concat([g.subarray(0, 240), Buffer.from([53, 1, 9, 255])]), 'bad-message-type'],
  ['message type two bytes', (g) => Buffer.concat([g.subarray(0, 240), Buffer.from([53, 2, 1, 1, 255])]), 'bad-message-type'],
];

for (const [title, corrupt, reason] of malformed) {
  test(`malformed: ${title} → MalformedDhcpPacket ${reason}`, (t) => {
    const err = t.throws(() => decodeDhcp(corrupt(handWrittenDiscover())), { instanceOf: MalformedDhcpPacket });
    t.is(err?.reason, reason);
    t.is(err?.code, 'SPROUT_DHCP_MALFORMED');
  });
}

test('read helpers return undefined for values of the wrong shape', (t) => {
  t.is(readOption.address(Buffer.from([1, 2, 3])), undefined);
  t.is(readOption.u8(Buffer.from([1, 2])), undefined);
  t.is(readOption.u16List(Buffer.from([0])), undefined);
  t.is(readOption.u16List(undefined), undefined);
});
