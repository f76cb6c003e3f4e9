/**
 * The TFTP service on the wire, read by a client written for the tests: windowsize,
 * loss and retransmission, repeated ACKs, error packets, limits and the counters.
 */
import test from 'ava';
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeAck, encodeError, encodeRequest, tftpErrors } from '../../src/services/tftp/packets.ts';
import { sha256, startTftp, waitFor, writeRandomFile } from './helpers/tftp-fixture.ts';
import { openPeer, readOverTftp } from './helpers/test-client.ts';

test('windowsize 8: the OACK grants it with blksize and tsize, and the data arrives intact', async (t) => {
  const server = await startTftp();
  t.teardown(() => server.close());
  const size = 1468 * 8 * 10 + 77; // ten full windows and a short last block
  const sha = writeRandomFile(join(server.root, 'undionly.kpxe'), size);
  const read = await readOverTftp({ port: server.port, filename: 'undionly.kpxe', options: { blksize: '1468', tsize: '0', windowsize: '8' } });
  t.is(read.error, null);
  t.deepEqual(Object.fromEntries(read.oack ?? []), { blksize: '1468', tsize: String(size), windowsize: '8' });
  t.is(sha256(read.data), sha);
  t.not(read.serverPort, server.port, 'the transfer runs on its own port (TID)');
});

test('asked values above the limits are lowered in the OACK: blksize to maxBlksize, windowsize to 64', async (t) => {
  const server = await startTftp({ maxBlksize: 1024 });
  t.teardown(() => server.close());
  const sha = writeRandomFile(join(server.root, 'ipxe.efi'), 1024 * 64 * 3);
  const read = await readOverTftp({ port: server.port, filename: 'ipxe.efi', options: { BLKSIZE: '65464', windowsize: '500', colour: 'blue' } });
  t.deepEqual(Object.fromEntries(read.oack ?? []), { blksize: '1024', windowsize: '64' });
  t.is(sha256(read.data), sha);
});

test('a request without options gets DATA 1 straight away, in 512-byte blocks, in netascii mode too', async (t) => {
  const server = await startTftp();
  t.teardown(() => server.close());
  const sha = writeRandomFile(join(server.root, 'pxelinux.0'), 512 * 4 + 1);
  const read = await readOverTftp({ port: server.port, filename: 'pxelinux.0', mode: 'NetASCII' });
  t.is(read.oack, null);
  t.is(read.dataPackets, 5);
  t.is(sha256(read.data), sha);
});

test('a lost first DATA packet is sent again after the timeout and the file still arrives', async (t) => {
  const server = await startTftp({ timeoutMs: 100 });
  t.teardown(() => server.close());
  const sha = writeRandomFile(join(server.root, 'lost.bin'), 5000);
  const read = await readOverTftp({ port: server.port, filename: 'lost.bin', dropFirstData: true });
  t.is(read.error, null);
  t.true(read.firstBlockArrivals >= 2, 'DATA 1 came again');
  t.is(sha256(read.data), sha);
});

test('a lost first DATA packet inside a window: the window is sent again and the file arrives', async (t) => {
  const server = await startTftp({ timeoutMs: 100 });
  t.teardown(() => server.close());
  const sha = writeRandomFile(join(server.root, 'lost-window.bin'), 1468 * 20);
  const read = await readOverTftp({ port: server.port, filename: 'lost-window.bin', dropFirstData: true, options: { blksize: '1468', windowsize: '8' } });
  t.is(read.error, null);
  t.true(read.firstBlockArrivals >= 2);
  t.is(sha256(read.data), sha);
});

for (const [windowsize, source] of [
  ['1', 'memory'],
  ['8', 'memory'],
  ['64', 'memory'],
  ['1', 'disk'],
  ['64', 'disk'],
] as const) {
  test(`a link that loses every 13th DATA packet still delivers the file intact (windowsize ${windowsize}, sent from ${source})`, async (t) => {
    // From disk: two read-ahead chunks of 256 KiB, the second read into the first's memory.
    const server = await startTftp({ timeoutMs: 50, retries: 20, ...(source === 'disk' ? { sharedFileMaxBytes: 0 } : {}) });
    t.teardown(() => server.close());
    const sha = writeRandomFile(join(server.root, 'lossy.bin'), 1468 * 300 + 5);
    const read = await readOverTftp({ port: server.port, filename: 'lossy.bin', dropEvery: 13, options: { blksize: '1468', windowsize }, deadlineMs: 30_000 });
    t.is(read.error, null);
    t.is(sha256(read.data), sha);
    t.true(read.dataPackets > 301, 'lost blocks were sent again');
  });
}

test('a lost OACK is sent again after the timeout and the transfer goes on', async (t) => {
  const server = await startTftp({ timeoutMs: 100 });
  t.teardown(() => server.close());
  const sha = writeRandomFile(join(server.root, 'oack.bin'), 3000);
  const read = await readOverTftp({ port: server.port, filename: 'oack.bin', dropFirstOack: true, options: { blksize: '1468', tsize: '0' } });
  t.true(read.oackArrivals >= 2, 'the OACK came again');
  t.is(sha256(read.data), sha);
});

test('a client that aborts after the OACK (the PXE tsize probe) is counted as aborted, not failed', async (t) => {
  const server = await startTftp({ timeoutMs: 5000 });
  t.teardown(() => server.close());
  writeFileSync(join(server.root, 'undionly.kpxe'), Buffer.alloc(70_000, 3));
  const client = await openPeer();
  t.teardown(() => client.close());
  client.send(encodeRequest('RRQ', 'undionly.kpxe', 'octet', new Map([['tsize', '0']])), server.port);
  const oack = await client.next();
  t.like(oack.packet, { op: 'OACK', options: new Map([['tsize', '70000']]) });
  client.send(encodeError(tftpErrors.optionNegotiation, 'TFTP Aborted'), oack.fromPort);
  t.true(await client.silentFor(300), 'no DATA after the abort');
  t.like(server.service.health(), { activeTransfers: 0, abortedByClient: 1, failedTransfers: 0 });
});

for (const windowsize of ['1', '4']) {
  test(`repeated ACKs never make the server resend (windowsize ${windowsize})`, async (t) => {
    // A long timeout: every DATA packet beyond one per block would come from a repeated ACK.
    const server = await startTftp({ timeoutMs: 5000 });
    t.teardown(() => server.close());
    writeRandomFile(join(server.root, 'apprentice.bin'), 512 * 40 + 10);
    const read = await readOverTftp({ port: server.port, filename: 'apprentice.bin', repeatAcks: true, lingerMs: 200, options: { windowsize } });
    t.is(read.error, null);
    t.is(read.dataPackets, 41);
    t.is(read.data.length, 512 * 40 + 10);
  });
}

test('a slow client whose every ACK comes within the timeout gets no retransmission, however long the transfer takes', async (t) => {
  // Ten ACKs 40 ms apart: the transfer outlasts the 300 ms timeout, but no single wait comes near it.
  const server = await startTftp({ timeoutMs: 300, retries: 1 });
  t.teardown(() => server.close());
  const sha = writeRandomFile(join(server.root, 'slow.bin'), 512 * 9 + 100);
  const read = await readOverTftp({ port: server.port, filename: 'slow.bin', ackDelayMs: 40, lingerMs: 200 });
  t.is(read.error, null);
  t.is(read.dataPackets, 10, 'every block exactly once');
  t.is(sha256(read.data), sha);
});

test('block numbers wrap past 65535 and the file still arrives intact', async (t) => {
  const server = await startTftp();
  t.teardown(() => server.close());
  const sha = writeRandomFile(join(server.root, 'wrap.bin'), 8 * 70_000 + 3);
  const read = await readOverTftp({ port: server.port, filename: 'wrap.bin', options: { blksize: '8', windowsize: '16' }, deadlineMs: 60_000 });
  t.is(read.error, null);
  t.is(sha256(read.data), sha);
});

test('a packet from another port to a transfer gets error 5 and the transfer goes on', async (t) => {
  const server = await startTftp({ timeoutMs: 5000 });
  t.teardown(() => server.close());
  writeFileSync(join(server.root, 'two-blocks'), Buffer.alloc(600, 7));
  const client = await openPeer();
  const stranger = await openPeer();
  t.teardown(() => {
    client.close();
    stranger.close();
  });
  client.send(encodeRequest('RRQ', 'two-blocks', 'octet'), server.port);
  const first = await client.next();
  t.like(first.packet, { op: 'DATA', block: 1 });
  stranger.send(encodeAck(1), first.fromPort);
  t.like((await stranger.next()).packet, { op: 'ERROR', code: tftpErrors.unknownTransferId });
  client.send(encodeAck(1), first.fromPort);
  const second = await client.next();
  t.like(second.packet, { op: 'DATA', block: 2 });
  t.is(second.fromPort, first.fromPort);
});

test('a repeated RRQ is not answered twice; a new RRQ for another file from the same port replaces the old transfer quietly', async (t) => {
  const server = await startTftp({ timeoutMs: 5000 });
  t.teardown(() => server.close());
  writeFileSync(join(server.root, 'first'), Buffer.alloc(2000, 1));
  writeFileSync(join(server.root, 'second'), Buffer.alloc(10, 2));
  const client = await openPeer();
  t.teardown(() => client.close());
  client.send(encodeRequest('RRQ', 'first', 'octet'), server.port);
  client.send(encodeRequest('RRQ', 'first', 'octet'), server.port);
  const first = await client.next();
  t.like(first.packet, { op: 'DATA', block: 1 });
  t.true(await client.silentFor(300), 'one DATA 1 only');
  t.is(server.service.health().activeTransfers, 1);
  client.send(encodeRequest('RRQ', 'second', 'octet'), server.port);
  const second = await client.next();
  t.like(second.packet, { op: 'DATA', block: 1 });
  t.not(second.fromPort, first.fromPort);
  t.deepEqual((second.packet as { data: Buffer }).data, Buffer.alloc(10, 2));
  client.send(encodeAck(1), second.fromPort);
  t.true(await client.silentFor(300), 'no error packet from the replaced transfer');
  t.like(server.service.health(), { activeTransfers: 0, completedTransfers: 1, failedTransfers: 0, abortedByClient: 1 });
});

test('a write request is refused with error 2: the server is read-only', async (t) => {
  const server = await startTftp();
  t.teardown(() => server.close());
  const read = await readOverTftp({ port: server.port, filename: 'upload.bin', op: 'WRQ' });
  t.is(read.error?.code, tftpErrors.accessViolation);
});

test('error packets carry the TFTP codes: 1 for a missing file, 2 for a path out of the root, 4 for an unknown mode', async (t) => {
  const server = await startTftp();
  t.teardown(() => server.close());
  t.is((await readOverTftp({ port: server.port, filename: 'missing.efi' })).error?.code, tftpErrors.fileNotFound);
  t.is((await readOverTftp({ port: server.port, filename: '../../etc/passwd' })).error?.code, tftpErrors.accessViolation);
  t.is((await readOverTftp({ port: server.port, filename: '..\\..\\etc\\passwd' })).error?.code, tftpErrors.accessViolation);
  t.is((await readOverTftp({ port: server.port, filename: '/etc/passwd' })).error?.code, tftpErrors.accessViolation);
  t.is((await readOverTftp({ port: server.port, filename: 'x', mode: 'mail' })).error?.code, tftpErrors.illegalOperation);
  t.like(server.service.health(), { refusedRequests: 5, completedTransfers: 0 });
});

test('a leading slash names a file under the root, as PXE configs often write it', async (t) => {
  const server = await startTftp();
  t.teardown(() => server.close());
  writeFileSync(join(server.root, 'ipxe.efi'), 'efi');
  t.is((await readOverTftp({ port: server.port, filename: '/ipxe.efi' })).data.toString(), 'efi');
  t.is((await readOverTftp({ port: server.port, filename: join(server.root, 'ipxe.efi') })).data.toString(), 'efi');
});

test('a client that stops acknowledging is given up after the retries, with an error packet, and counted as failed', async (t) => {
  const server = await startTftp({ timeoutMs: 50, retries: 2 });
  t.teardown(() => server.close());
  writeRandomFile(join(server.root, 'stall.bin'), 512 * 10);
  const read = await readOverTftp({ port: server.port, filename: 'stall.bin', stopAckingAfter: 0 });
  t.is(read.error?.code, tftpErrors.notDefined);
  t.is(read.dataPackets, 1 + 2, 'block 1, then two retransmissions of it');
  await waitFor(() => server.service.health().failedTransfers === 1);
  t.like(server.service.health(), { activeTransfers: 0, failedTransfers: 1, completedTransfers: 0 });
});

test('beyond maxTransfers a request goes unanswered, not refused; the same request resent later is served', async (t) => {
  const server = await startTftp({ maxTransfers: 1, timeoutMs: 300, retries: 1 });
  t.teardown(() => server.close());
  const sha = writeRandomFile(join(server.root, 'one.bin'), 512 * 3);
  const stalled = readOverTftp({ port: server.port, filename: 'one.bin', stopAckingAfter: 0 });
  await waitFor(() => server.service.health().activeTransfers === 1);
  const client = await openPeer();
  t.teardown(() => client.close());
  const request = encodeRequest('RRQ', 'one.bin', 'octet');
  client.send(request, server.port);
  t.true(await client.silentFor(300), 'no error packet: firmware would count one as a failed boot');
  t.like(server.service.health(), { deferredRequests: 1, refusedRequests: 0 });
  await stalled;
  await waitFor(() => server.service.health().activeTransfers === 0);
  client.send(request, server.port);
  t.like((await client.next()).packet, { op: 'DATA', block: 1 });
  t.is(server.logs.filter((l) => l.level === 'warn' && /maxTransfers/.test(l.m ?? '')).length, 1, 'one warning, not one per request');
  await waitFor(() => server.service.health().activeTransfers === 0); // this client never ACKs either
  t.is(sha256((await readOverTftp({ port: server.port, filename: 'one.bin' })).data), sha);
});

test('eight transfers of one file at once share it and all arrive intact; a file rewritten afterwards is served new', async (t) => {
  const server = await startTftp();
  t.teardown(() => server.close());
  const path = join(server.root, 'shared.bin');
  const sha = writeRandomFile(path, 512 * 700 + 3);
  const reads = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      readOverTftp({ port: server.port, filename: 'shared.bin', options: i % 2 ? { blksize: '1468' } : {}, deadlineMs: 30_000 }),
    ),
  );
  for (const read of reads) {
    t.is(read.error, null);
    t.is(sha256(read.data), sha);
  }
  await waitFor(() => server.service.health().activeTransfers === 0);
  const rewritten = writeRandomFile(path, 512 * 300 + 1);
  t.is(sha256((await readOverTftp({ port: server.port, filename: 'shared.bin' })).data), rewritten);
});

test('health counts completed transfers and the bytes sent', async (t) => {
  const server = await startTftp();
  t.teardown(() => server.close());
  writeFileSync(join(server.root, 'a'), Buffer.alloc(1000, 1));
  await readOverTftp({ port: server.port, filename: 'a' });
  await readOverTftp({ port: server.port, filename: 'a', options: { blksize: '1468' } });
  await waitFor(() => server.service.health().completedTransfers === 2);
  t.like(server.service.health(), { activeTransfers: 0, completedTransfers: 2, failedTransfers: 0, bytesSent: 2000, root: server.root });
  t.is(readFileSync(join(server.root, 'a')).length, 1000, 'the served file is untouched');
});

test('stop ends running transfers with an error packet and frees the port', async (t) => {
  const server = await startTftp({ timeoutMs: 5000 });
  t.teardown(() => server.close());
  writeRandomFile(join(server.root, 'long.bin'), 512 * 10);
  const stalled = readOverTftp({ port: server.port, filename: 'long.bin', stopAckingAfter: 1 });
  await waitFor(() => server.service.health().activeTransfers === 1);
  await server.close();
  const read = await stalled;
  t.is(read.error?.code, tftpErrors.notDefined);
  t.regex(read.error?.message ?? '', /shutting down/);
  const again = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    again.once('error', reject);
    again.bind(server.port, '127.0.0.1', () => resolve());
  });
  t.is(again.address().port, server.port, 'the port is free again: another socket binds it');
  again.close();
});

test('settings are checked: every invalid one is reported at once, and a missing root says what to do', async (t) => {
  const bad = await t.throwsAsync(startTftp({ port: 'tftp', timeoutMs: 0, retires: 3 }));
  t.regex(bad.message, /3 invalid/);
  const missing = await t.throwsAsync(startTftp({ root: '/nonexistent/ipxe' }));
  t.regex(missing.message, /ipxe package/);
});
