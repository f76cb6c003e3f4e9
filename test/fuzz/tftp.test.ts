/**
 * TFTP fuzzing over the wire: 100 000 random and mutated packets at the agent's TFTP
 * service on loopback — read requests with odd names, modes and options (traversal and
 * absolute paths among them), stray ACK/DATA/ERROR/OACK packets, noise — some aimed at
 * the ports of transfers the fuzz itself started. Every answer is read by a decoder
 * written here; no answer may carry a byte from outside the root; the service must
 * keep serving, drain its transfers and not grow without bound.
 */
import test from 'ava';
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTftp } from '../../agent/test/tftp/helpers/tftp-fixture.ts';
import { fuzzSeed, heapUsed, MiB, mutate, prng } from './fuzz-kit.ts';

const packets = Number(process.env.SPROUT_FUZZ_PACKETS ?? 100_000);
const optionNames = new Set(['blksize', 'tsize', 'timeout', 'windowsize']);

/** A strict reading of a server packet. Null when well formed. */
function malformedTftpAnswer(p: Buffer, maxBlksize: number): string | null {
  if (p.length < 4) return `only ${p.length} bytes`;
  const op = p.readUInt16BE(0);
  if (op === 3) return p.length <= 4 + maxBlksize ? null : `DATA of ${p.length - 4} bytes, over blksize ${maxBlksize}`;
  if (op === 5) {
    const code = p.readUInt16BE(2);
    if (code > 8) return `error code ${code}`;
    if (p[p.length - 1] !== 0) return 'error message not NUL-terminated';
    if (p.subarray(4, p.length - 1).includes(0)) return 'NUL inside the error message';
    return null;
  }
  if (op === 6) {
    if (p[p.length - 1] !== 0) return 'OACK not NUL-terminated';
    const fields = p
      .subarray(2, p.length - 1)
      .toString('latin1')
      .split('\0');
    if (fields.length % 2 !== 0) return `OACK with an unpaired field: ${JSON.stringify(fields)}`;
    for (let i = 0; i < fields.length; i += 2) {
      if (!optionNames.has(fields[i]!.toLowerCase())) return `OACK acknowledges an option nobody asked for: ${fields[i]}`;
      if (!/^\d{1,10}$/.test(fields[i + 1]!)) return `OACK value ${JSON.stringify(fields[i + 1])}`;
    }
    return null;
  }
  return `opcode ${op}: a read-only server sends only DATA, ERROR and OACK`;
}

function request(op: 1 | 2, filename: string, mode: string, options: [string, string][]): Buffer {
  return Buffer.concat([
    Buffer.from([0, op]),
    Buffer.from(`${filename}\0${mode}\0`, 'latin1'),
    ...options.map(([k, v]) => Buffer.from(`${k}\0${v}\0`, 'latin1')),
  ]);
}

// With a transfer worker too: the checks stay in the agent's process, the transfers it accepts run in the worker.
for (const workers of [0, 1]) {
  test(`${packets} random and mutated TFTP packets over loopback: every answer well formed, nothing from outside the root, service intact${workers ? ', with 1 transfer worker' : ''}`, async (t) => {
    t.timeout(120_000);
    t.log(`seed ${fuzzSeed} (SPROUT_FUZZ_SEED=${fuzzSeed} replays)`);
    const random = prng(fuzzSeed);
    const tftp = await startTftp({ timeoutMs: 40, retries: 1, maxTransfers: 64, workers });
    const secret = `outside-the-root-${randomBytes(8).toString('hex')}`;
    writeFileSync(join(tftp.scratch, 'secret.txt'), secret);
    const bootFile = randomBytes(3000);
    writeFileSync(join(tftp.root, 'undionly.kpxe'), bootFile);
    mkdirSync(join(tftp.root, 'efi'));
    writeFileSync(join(tftp.root, 'efi', 'ipxe.efi'), randomBytes(700));
    symlinkSync(join(tftp.scratch, 'secret.txt'), join(tftp.root, 'escape'));
    const client = createSocket('udp4');
    const answers: { packet: Buffer; port: number }[] = [];
    client.on('message', (packet, from) => answers.length < 300_000 && answers.push({ packet, port: from.port }));
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()));
    t.teardown(async () => {
      client.close();
      await tftp.close();
    });

    const names = [
      'undionly.kpxe',
      'efi/ipxe.efi',
      '/undionly.kpxe',
      'EFI\\ipxe.efi',
      'missing',
      '../' + 'x',
      '../../../../etc/passwd',
      '/etc/passwd',
      '../secret.txt',
      'escape',
      'efi/../../secret.txt',
      'efi/./ipxe.efi',
      '',
      'a'.repeat(600),
      '%2e%2e/secret.txt',
      'undionly.kpxe\0extra',
    ];
    const transferPorts: number[] = [];
    const next = (): { packet: Buffer; port: number } => {
      const roll = random.next();
      // Stray packets at a transfer the fuzz started: wrong blocks, errors, noise.
      if (roll < 0.2 && transferPorts.length > 0) {
        const ack = Buffer.from([0, random.pick([3, 4, 4, 4, 5, 6]), random.int(256), random.int(256)]);
        return { packet: random.next() < 0.5 ? ack : mutate(random, ack, 600), port: random.pick(transferPorts) };
      }
      const options: [string, string][] = [];
      for (const name of ['blksize', 'tsize', 'windowsize', 'timeout', 'BLKSIZE', 'multicast', 'x']) {
        if (random.next() < 0.3)
          options.push([
            name,
            random.pick(['0', '1', '8', '512', '1468', '65464', '65465', '99999999999', '-1', '', 'abc', '64', '65', String(random.int(70_000))]),
          ]);
      }
      const valid = request(random.next() < 0.9 ? 1 : 2, random.pick(names), random.pick(['octet', 'netascii', 'OCTET', 'mail', '']), options);
      return { packet: random.next() < 0.3 ? valid : mutate(random, valid, 1400), port: tftp.port };
    };

    const send = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const { packet, port } = next();
        await new Promise<void>((resolve) => client.send(packet, port, '127.0.0.1', () => resolve()));
        if (i % 25 === 24) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          for (const a of answers.slice(-20)) if (a.port !== tftp.port && !transferPorts.includes(a.port)) transferPorts.push(a.port);
          if (transferPorts.length > 64) transferPorts.splice(0, transferPorts.length - 64);
        }
      }
    };
    await send(2_000);
    const heapBefore = heapUsed();
    await send(packets - 2_000);
    // Transfers left hanging by the flood time out on their own.
    const deadline = Date.now() + 10_000;
    while ((tftp.service.health() as { activeTransfers: number }).activeTransfers > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const heapAfter = heapUsed();

    let bad = 0;
    const passwd = (() => {
      try {
        return readFileSync('/etc/passwd').subarray(0, 32);
      } catch {
        return Buffer.from('root:x:0:0:');
      }
    })();
    for (const { packet } of answers) {
      const problem = malformedTftpAnswer(packet, 65464) ?? (packet.includes(secret) || packet.includes(passwd) ? 'a file from outside the root' : null);
      if (problem && bad++ < 5) t.fail(`${problem}: ${packet.subarray(0, 80).toString('hex')}`);
    }
    const health = tftp.service.health() as {
      activeTransfers: number;
      completedTransfers: number;
      failedTransfers: number;
      refusedRequests: number;
      deferredRequests: number;
      abortedByClient: number;
    };
    t.log(
      `${packets} packets sent, ${answers.length} answers checked; transfers: ${health.completedTransfers} completed, ${health.failedTransfers} failed, ${health.abortedByClient} aborted; ${health.refusedRequests} refused, ${health.deferredRequests} deferred; heap ${(heapBefore / MiB).toFixed(1)} → ${(heapAfter / MiB).toFixed(1)} MiB`,
    );
    t.is(bad, 0);
    t.true(answers.length > packets / 4, `enough answers to judge (${answers.length})`);
    t.is(health.activeTransfers, 0, 'every transfer the flood started has ended');
    t.true(heapAfter - heapBefore < 64 * MiB, `heap grew by ${((heapAfter - heapBefore) / MiB).toFixed(1)} MiB`);
    t.false(
      tftp.logs.some((l) => l.level === 'error'),
      JSON.stringify(tftp.logs.filter((l) => l.level === 'error').slice(0, 3)),
    );

    // Still serving: a plain read of the boot file, block by block.
    const fetched = await fetchFile(tftp.port, 'undionly.kpxe');
    t.true(fetched.equals(bootFile), 'the boot file still arrives intact');
  });
}

test('an ERROR packet sent to the listening port is not answered (no error ping-pong between two servers)', async (t) => {
  const tftp = await startTftp();
  const client = createSocket('udp4');
  const answers: Buffer[] = [];
  client.on('message', (m) => answers.push(m));
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()));
  t.teardown(async () => {
    client.close();
    await tftp.close();
  });
  client.send(Buffer.from([0, 5, 0, 4, ...Buffer.from('Illegal TFTP operation'), 0]), tftp.port, '127.0.0.1');
  client.send(Buffer.from([0, 4, 0, 1]), tftp.port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 500));
  t.is(answers.length, 1, 'the stray ACK is refused, the ERROR is not answered');
  t.is(answers[0]?.readUInt16BE(0), 5);
});

/** A minimal RFC 1350 client: RRQ, then ACK each block until a short one. */
async function fetchFile(port: number, name: string): Promise<Buffer> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const blocks: Buffer[] = [];
      const timer = setTimeout(() => reject(new Error('tftp read timed out')), 5_000);
      socket.on('message', (m, from) => {
        if (m.readUInt16BE(0) !== 3) return reject(new Error(`got opcode ${m.readUInt16BE(0)}: ${m.subarray(4).toString()}`));
        const block = m.readUInt16BE(2);
        if (block === blocks.length + 1) blocks.push(m.subarray(4));
        socket.send(Buffer.from([0, 4, block >> 8, block & 255]), from.port, '127.0.0.1');
        if (m.length - 4 < 512) {
          clearTimeout(timer);
          resolve(Buffer.concat(blocks));
        }
      });
      socket.send(request(1, name, 'octet', []), port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}
