/**
 * Boot files and artifacts are served only from under their roots. Over real sockets,
 * the agent's HTTP artifact route and its TFTP service get traversal in every encoding,
 * absolute paths, symlinks (to files, to folders, chained, looping) that lead out of
 * the root, and malformed percent-encoding: each is refused, no byte from outside the
 * root is ever sent, and the services keep serving afterwards.
 */
import test from 'ava';
import { request } from 'node:http';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { httpBootService } from '../../agent/src/services/http-boot/index.ts';
import { tftpService } from '../../agent/src/services/tftp/index.ts';
import { MachineWaits } from '../../agent/src/machine-waits.ts';

const quiet = { info() {}, warn() {}, error() {} };

/** A root with one good file, and a secret beside it reachable through every kind of link. */
function tree(t: import('ava').ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-paths-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  const secret = `SECRET-${randomBytes(12).toString('hex')}`;
  mkdirSync(join(root, 'installer'), { recursive: true });
  mkdirSync(join(dir, 'outside'));
  writeFileSync(join(dir, 'secret'), secret);
  writeFileSync(join(dir, 'outside', 'secret'), secret);
  writeFileSync(join(root, 'installer', 'vmlinuz'), 'kernel bytes');
  symlinkSync(join(dir, 'secret'), join(root, 'escape'));
  symlinkSync('../secret', join(root, 'escape-relative'));
  symlinkSync(join(dir, 'outside'), join(root, 'escape-dir'));
  symlinkSync(join(root, 'escape'), join(root, 'chain'));
  symlinkSync(join(root, 'loop-b'), join(root, 'loop-a'));
  symlinkSync(join(root, 'loop-a'), join(root, 'loop-b'));
  symlinkSync(dir, join(root, 'installer', 'up'));
  return { dir, root, secret };
}

const hostile = (dir: string) => [
  '../secret',
  '..%2fsecret',
  '%2e%2e/secret',
  '%2e%2e%2fsecret',
  '%2E%2E%2Fsecret',
  '..%5csecret',
  '%252e%252e%252fsecret',
  '..%c0%afsecret',
  'installer/..%2f..%2fsecret',
  'installer/%2e%2e/%2e%2e/secret',
  `${'..%2f'.repeat(40)}etc/passwd`,
  '%2fetc%2fpasswd',
  `%2f${encodeURIComponent(dir.slice(1))}%2fsecret`,
  encodeURIComponent(join(dir, 'secret')),
  '/etc/passwd',
  'escape',
  'escape-relative',
  'escape-dir/secret',
  'chain',
  'loop-a',
  'installer/up/secret',
  'installer/up/outside/secret',
  'installer/vmlinuz%00',
  '%00',
  '%E0%A4%A',
  '%ZZ',
  '%',
  '%ED%A0%80',
];

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.end();
  });
}

test('HTTP artifacts: traversal in every encoding, absolute paths, escaping symlinks and malformed escapes are refused; the service goes on', async (t) => {
  const { dir, root, secret } = tree(t);
  const service = await httpBootService({ waits: new MachineWaits(dir), reportFor: () => undefined, markInstalled: () => undefined })({
    dataDir: dir,
    settings: { port: 0, address: '127.0.0.1', artifactRoot: root },
    desiredState: () => ({}),
    onDesiredState() {},
    report: () => undefined,
    logger: quiet,
  });
  t.teardown(() => service.stop());
  const port = service.health().port as number;
  for (const path of hostile(dir)) {
    for (const url of [`/artifacts/${path}`, `/artifacts/installer/${path}`]) {
      const res = await get(port, url);
      t.true([400, 404].includes(res.status), `${url}: ${res.status}`);
      t.false(res.body.includes(secret), `${url} leaked the secret`);
      t.false(res.body.includes('root:x:0:0'), `${url} leaked /etc/passwd`);
    }
  }
  // Absolute-form request targets (a proxy-style request line) are no way out either.
  const absolute = await get(port, 'http://agent/artifacts/../secret');
  t.false(absolute.body.includes(secret));
  const good = await get(port, '/artifacts/installer/vmlinuz');
  t.is(good.status, 200);
  t.is(good.body, 'kernel bytes');
});

test('TFTP: the same names in read requests are refused with an error packet, never a data block', async (t) => {
  const { dir, root, secret } = tree(t);
  const service = await tftpService({
    dataDir: dir,
    settings: { port: 0, address: '127.0.0.1', root },
    desiredState: () => ({}),
    onDesiredState() {},
    report: () => undefined,
    logger: quiet,
  });
  t.teardown(() => service.stop());
  const port = service.health().port as number;
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  t.teardown(() => socket.close());
  const ask = (name: string) =>
    new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to RRQ ${name}`)), 3_000);
      socket.once('message', (m) => (clearTimeout(timer), resolve(m)));
      socket.send(Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${name}\0octet\0`, 'latin1')]), port, '127.0.0.1');
    });
  const names = [
    ...hostile(dir),
    ...hostile(dir).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    }),
    '..\\secret',
    'installer\\..\\..\\secret',
    join(dir, 'secret'),
    join(dir, 'outside', 'secret'),
  ];
  for (const name of new Set(names)) {
    const answer = await ask(name);
    t.is(answer.readUInt16BE(0), 5, `RRQ ${JSON.stringify(name)} got opcode ${answer.readUInt16BE(0)}`);
    // 1 not found, 2 access violation, 4 a request with a NUL inside the name (not a request at all).
    t.true([1, 2, 4].includes(answer.readUInt16BE(2)), `RRQ ${JSON.stringify(name)}: error code ${answer.readUInt16BE(2)}`);
    t.false(answer.includes(secret));
  }
  // And it still serves what is inside.
  const good = await ask('installer/vmlinuz');
  t.is(good.readUInt16BE(0), 3);
  t.is(good.subarray(4).toString(), 'kernel bytes');
});
