/**
 * The API over HTTPS, as an operator runs it: a CA and a certificate for 127.0.0.1 made
 * with the openssl CLI in a temporary folder (no key is committed), `sprout server` with
 * `tls:`, the CLI and an agent trusting that CA with --ca, a clear refusal without it, and
 * SIGHUP swapping the certificate for new connections.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, spawnSprout, sprout, freePort } from '@sprout/test-support/processes.ts';
import { until } from '@sprout/test-support/until.ts';

const pki = mkdtempSync(join(tmpdir(), 'sprout-tls-'));
test.after.always(() => rmSync(pki, { recursive: true, force: true }));

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: pki, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA (`<name>.pem`, `<name>.key`). */
function makeCa(name: string): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  );
}

/** A server certificate for 127.0.0.1 signed by `ca`, with the given serial (hex). */
function makeServerCert(name: string, ca: string, serial: string): void {
  writeFileSync(join(pki, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    '/CN=127.0.0.1',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-set_serial',
    `0x${serial}`,
    '-days',
    '2',
    '-out',
    `${name}.pem`,
    '-extfile',
    'ext.cnf',
  );
}

/** The serial number of the certificate a new TLS connection to the port is served. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial.replace(/^0+/, '').toUpperCase());
    });
    socket.once('error', reject);
  });
}

makeCa('ca');
makeCa('other-ca');
makeServerCert('first', 'ca', '1001');
makeServerCert('second', 'ca', '2002');
makeServerCert('stranger', 'other-ca', '3003');
const ca = join(pki, 'ca.pem');

async function tlsServer(t: any) {
  // The served files are copies, replaced in place before a SIGHUP as a renewal would.
  const cert = join(pki, `served-${Math.random().toString(36).slice(2, 8)}`);
  copyFileSync(join(pki, 'first.pem'), `${cert}.pem`);
  copyFileSync(join(pki, 'first.key'), `${cert}.key`);
  const server = await startServer({}, `agents: { heartbeatSeconds: 0.5 }\ntls: { cert: ${cert}.pem, key: ${cert}.key }\n`);
  t.teardown(() => server.stop());
  const url = `https://127.0.0.1:${server.port}`;
  const token = readFileSync(join(server.dir, '.sprout', 'admin-token'), 'utf8').trim();
  const run = (args: string[], env: Record<string, string> = {}) =>
    sprout(args, { cwd: server.dir, env: { ...server.env, SPROUT_URL: url, SPROUT_TOKEN: token, ...env } });
  return { server, url, token, run, cert };
}

test.serial('the CLI lists sites over https with --ca, SPROUT_CA or the login profile; without the CA it says to give --ca', async (t) => {
  const { server, url, run } = await tlsServer(t);
  t.regex(server.log(), new RegExp(`"address":"https://127\\.0\\.0\\.1:${server.port}"`));
  t.is((await run(['site', 'create', 'fra1', '--ca', ca])).code, 0);

  const listed = await run(['site', 'list', '--json', '--ca', ca]);
  t.is(listed.code, 0, listed.stderr);
  t.deepEqual(
    JSON.parse(listed.stdout).map((s: any) => s.name),
    ['fra1'],
  );
  t.is((await run(['site', 'list'], { SPROUT_CA: ca })).code, 0);

  const untrusted = await run(['site', 'list']);
  t.is(untrusted.code, 1);
  t.regex(untrusted.stderr, /does not trust/);
  t.regex(untrusted.stderr, /--ca FILE/);
  t.notRegex(untrusted.stderr, /\n\s+at /, 'no stack trace');

  // A CA that did not sign the server's certificate is no better, and says which file was tried.
  const wrongCa = await run(['site', 'list', '--ca', join(pki, 'other-ca.pem')]);
  t.is(wrongCa.code, 1);
  t.regex(wrongCa.stderr, /other-ca\.pem did not sign it/);
  const missing = await run(['site', 'list', '--ca', join(pki, 'nope.pem')]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /--ca: cannot read the CA file .*nope\.pem/);

  // `sprout login --ca` keeps the CA in the profile: later commands need no flag.
  const login = await sprout(['login', '--url', url, '--token-file', join(server.dir, '.sprout', 'admin-token'), '--ca', ca], {
    cwd: server.dir,
    env: server.env,
  });
  t.is(login.code, 0, login.stderr);
  const viaProfile = await sprout(['site', 'list', '--json'], { cwd: server.dir, env: server.env });
  t.is(viaProfile.code, 0, viaProfile.stderr);
  t.is(JSON.parse(viaProfile.stdout)[0].name, 'fra1');
});

test.serial('an agent joins over https with --ca; without it the join is refused naming ca: and the token stays unspent', async (t) => {
  const { server, url, run } = await tlsServer(t);
  const site = JSON.parse((await run(['site', 'create', 'lab', '--json', '--ca', ca])).stdout);
  const agentDir = mkdtempSync(join(tmpdir(), 'sprout-agent-'));
  t.teardown(() => rmSync(agentDir, { recursive: true, force: true }));
  const args = ['agent', 'run', '--control-plane', url, '--data-dir', agentDir, '--hostname', 'tls-agent', '--join-token', site.joinToken.token];

  const refused = await sprout(args, { cwd: server.dir, env: server.env });
  t.is(refused.code, 1);
  t.regex(refused.stderr, /does not trust .*ca: FILE in agent\.yaml \(or --ca FILE\)/);

  const agent = spawnSprout([...args, '--ca', ca], { cwd: server.dir, env: server.env });
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitFor('sprout agent is running');
  const shown = await until('agent online over https', async () => {
    const out = (await run(['site', 'show', 'lab', '--json', '--ca', ca])).stdout;
    const agents = JSON.parse(out).agents;
    return agents[0]?.status === 'online' && agents[0];
  });
  t.is(shown.hostname, 'tls-agent');
});

test.serial('SIGHUP swaps the certificate for new connections; an unusable one is logged and the old one kept', async (t) => {
  const { server, run, cert } = await tlsServer(t);
  t.is(await servedSerial(server.port), '1001');

  copyFileSync(join(pki, 'second.pem'), `${cert}.pem`);
  copyFileSync(join(pki, 'second.key'), `${cert}.key`);
  process.kill(server.pid, 'SIGHUP');
  await until('reloaded', async () => server.log().includes('TLS certificate and key reloaded'));
  t.is(await servedSerial(server.port), '2002');
  t.is((await run(['site', 'list', '--ca', ca])).code, 0, 'the same listener still answers');

  // A key that does not belong to the certificate: logged naming tls.key, the previous pair served on.
  copyFileSync(join(pki, 'first.key'), `${cert}.key`);
  process.kill(server.pid, 'SIGHUP');
  await until('refused', async () => server.log().includes('still serving the previous ones'));
  t.regex(server.log(), /"field":"tls\.key"/);
  t.is(await servedSerial(server.port), '2002');
});

test.serial('a missing certificate file or a key of another certificate stops the start, naming the field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-server-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  writeFileSync(join(dir, 'sprout.yaml'), `listen: 127.0.0.1:${port}\ntls: { cert: ${join(pki, 'first.pem')}, key: ${join(pki, 'second.key')} }\n`);
  const mismatched = await sprout(['server'], { cwd: dir, env: { XDG_CONFIG_HOME: join(dir, 'home') } });
  t.not(mismatched.code, 0);
  t.regex(mismatched.stderr, /tls\.key: .*second\.key does not belong to the certificate in .*first\.pem/);

  const missing = await sprout(['server'], {
    cwd: dir,
    env: { XDG_CONFIG_HOME: join(dir, 'home'), SPROUT_TLS_CERT: join(pki, 'absent.pem'), SPROUT_TLS_KEY: join(pki, 'first.key') },
  });
  t.not(missing.code, 0);
  t.regex(missing.stderr, /tls\.cert: cannot read .*absent\.pem: ENOENT/);
});
