/** TFTP packets, option negotiation and settings, without sockets. */
import test from 'ava';
import { decodePacket, encodeAck, encodeError, encodeOack, encodeRequest } from '../../src/services/tftp/packets.ts';
import { negotiateOptions } from '../../src/services/tftp/options.ts';
import { parseTftpSettings, defaultTftpSettings } from '../../src/services/tftp/settings.ts';

test('a read request decodes with its mode lowered and option names case-insensitive', (t) => {
  const packet = decodePacket(
    encodeRequest(
      'RRQ',
      'efi/ipxe.efi',
      'OCTET',
      new Map([
        ['BlkSize', '1468'],
        ['tsize', '0'],
      ]),
    ),
  );
  t.deepEqual(packet, {
    op: 'RRQ',
    filename: 'efi/ipxe.efi',
    mode: 'octet',
    options: new Map([
      ['blksize', '1468'],
      ['tsize', '0'],
    ]),
  });
});

test('malformed packets decode to null', (t) => {
  t.is(decodePacket(Buffer.from([0, 1])), null);
  t.is(decodePacket(Buffer.from([0, 1, 0x61, 0x62])), null, 'unterminated filename');
  t.is(decodePacket(Buffer.from([0, 1, 0x61, 0])), null, 'no mode');
  t.is(decodePacket(Buffer.from([0, 1, 0, 0x6f, 0])), null, 'empty filename');
  t.is(decodePacket(Buffer.from([0, 9, 0, 0])), null, 'unknown opcode');
});

test('ACK, ERROR and OACK encode as on the wire', (t) => {
  t.deepEqual([...encodeAck(65536 + 7)], [0, 4, 0, 7]);
  t.deepEqual([...encodeError(1, 'File not found')], [0, 5, 0, 1, ...Buffer.from('File not found'), 0]);
  t.deepEqual(decodePacket(encodeOack(new Map([['blksize', '1468']]))), { op: 'OACK', options: new Map([['blksize', '1468']]) });
});

test('negotiation grants blksize up to the limit, tsize as the file size and windowsize up to 64', (t) => {
  const limits = { maxBlksize: 1468 };
  const granted = negotiateOptions(
    new Map([
      ['blksize', '9000'],
      ['tsize', '0'],
      ['windowsize', '100'],
    ]),
    123_456,
    limits,
  );
  t.deepEqual(granted, {
    blksize: 1468,
    windowsize: 64,
    acknowledged: new Map([
      ['blksize', '1468'],
      ['tsize', '123456'],
      ['windowsize', '64'],
    ]),
  });
  t.deepEqual(negotiateOptions(new Map([['blksize', '1024']]), 1, limits).blksize, 1024);
});

test('options that are unknown or out of range are left out of the OACK and the defaults apply', (t) => {
  const granted = negotiateOptions(
    new Map([
      ['blksize', '7'],
      ['windowsize', '0'],
      ['tsize', 'big'],
      ['timeout', '3'],
      ['multicast', ''],
    ]),
    10,
    { maxBlksize: 1468 },
  );
  t.deepEqual(granted, { blksize: 512, windowsize: 1, acknowledged: new Map() });
});

test('an empty file gets no tsize in the OACK (curl refuses tsize 0)', (t) => {
  t.deepEqual(negotiateOptions(new Map([['tsize', '0']]), 0, { maxBlksize: 1468 }).acknowledged, new Map());
});

test('settings default to port 69, /usr/lib/ipxe and a 500 ms timeout', (t) => {
  t.deepEqual(parseTftpSettings({}), { ...defaultTftpSettings });
  t.like(defaultTftpSettings, { port: 69, address: '0.0.0.0', root: '/usr/lib/ipxe', timeoutMs: 500, retries: 5, maxTransfers: 256 });
  t.like(parseTftpSettings({ port: 6969, root: '/srv/tftp' }), { port: 6969, root: '/srv/tftp', timeoutMs: 500 });
});

test('every invalid setting is reported at once, with its field', (t) => {
  const error = t.throws(() => parseTftpSettings({ port: 70000, retries: -1, root: '', address: 'pxe.example', timeout: 2 })) as Error & {
    code: string;
    details: { field: string }[];
  };
  t.is(error.code, 'SPROUT_ERR_CONFIG');
  t.deepEqual(error.details.map((d) => d.field).sort(), [
    'services.tftp.address',
    'services.tftp.port',
    'services.tftp.retries',
    'services.tftp.root',
    'services.tftp.timeout',
  ]);
});
