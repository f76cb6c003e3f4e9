/**
 * The redfish driver beyond the contract, against the test Redfish BMC: TLS trust (a
 * self-signed certificate only with `insecure`, a trusted one without), how it logs in
 * (session reused and re-created after expiry, basic auth where there is no
 * SessionService, a ready token), what its errors say, and that the password never
 * appears in one. None of these power the VM on: the VM stays a directory.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { PowerError, powerCapability, type PowerDriverInfo, type PowerTarget } from '@sprout/kernel';
import plugin, { checkRedfishAddress } from '../src/index.ts';
import { agentDriver, deadAddress, password, redfishLab, silentServer, targetOf, username, type Lab } from './bmc-fixture.ts';
import type { RedfishBmcOptions } from '@sprout/test-support/redfish-bmc.ts';

const call = { timeoutMs: 10_000 };

async function lab(t: { teardown(fn: () => Promise<void>): void }, name: string, options: Partial<RedfishBmcOptions> = {}): Promise<Lab> {
  const made = await redfishLab(name, options);
  t.teardown(() => made.close());
  return made;
}

async function failure(promise: Promise<unknown>): Promise<PowerError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof PowerError) return err;
    throw err;
  }
  throw new Error('expected a PowerError, the call succeeded');
}

/** POSTs a session the way any Redfish client would, for the token test. */
function newSessionToken(address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${address}/redfish/v1/SessionService/Sessions`,
      { method: 'POST', rejectUnauthorized: false, headers: { 'Content-Type': 'application/json' } },
      (res) => {
        res.resume();
        const token = res.headers['x-auth-token'];
        if (res.statusCode === 201 && typeof token === 'string') resolve(token);
        else reject(new Error(`session POST answered ${res.statusCode}`));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ UserName: username, Password: password }));
  });
}

test('the control plane learns the redfish type, and an address must be https://host[:port]', (t) => {
  let info: PowerDriverInfo | undefined;
  plugin.setup!({ provide: (capability: unknown, factory: () => PowerDriverInfo) => capability === powerCapability && (info = factory()) } as never);
  t.is(info?.type, 'redfish');
  t.true(info?.needsAddress);
  t.is(info?.checkAddress, checkRedfishAddress);
  t.is(checkRedfishAddress('https://10.0.0.5'), undefined);
  t.is(checkRedfishAddress('https://bmc-12.example.net:8443/'), undefined);
  t.is(checkRedfishAddress('https://[fd00::5]:443'), undefined);
  t.regex(checkRedfishAddress('http://10.0.0.5') ?? '', /http:\/\/ is refused.*password would travel in clear/);
  t.regex(checkRedfishAddress('10.0.0.5') ?? '', /https URL/);
  t.regex(checkRedfishAddress('https://10.0.0.5/redfish/v1') ?? '', /no path/);
  t.regex(checkRedfishAddress('https://root:calvin@10.0.0.5') ?? '', /without credentials/);
});

test('a self-signed BMC certificate is refused without insecure, saying so, and accepted with it', async (t) => {
  const { bmc, target } = await lab(t, 'rf-tls');
  const driver = await agentDriver();
  const err = await failure(driver.state({ ...target, bmc: { ...target.bmc, insecure: undefined } }, call));
  t.is(err.reason, 'unreachable');
  t.true(err.message.startsWith(`redfish ${bmc.address}: `), err.message);
  t.regex(err.message, /TLS certificate was not trusted \(self[- ]signed certificate\).*insecure: true/);
  t.is(bmc.requests.length, 0, 'nothing was sent over an untrusted connection');
  t.is(await driver.state(target, call), 'off');
});

test('a BMC certificate the system trusts is accepted without insecure', async (t) => {
  const { bmc, target } = await lab(t, 'rf-trusted');
  // Node reads its extra trusted CAs at startup: a child process trusts the BMC's certificate.
  const script = `
    import plugin from ${JSON.stringify(fileURLToPath(new URL('../src/index.ts', import.meta.url)))};
    const driver = (await plugin.agent()).power.redfish;
    console.log(await driver.state(${JSON.stringify({ ...target, bmc: { ...target.bmc, insecure: false } })}, { timeoutMs: 10000 }));
  `;
  // Asynchronously: the BMC answering the child runs in this process.
  const child = await promisify(execFile)(process.execPath, ['--conditions=sprout-source', '--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: bmc.certificate },
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.is(child.stdout.trim(), 'off', child.stderr);
  t.true(
    bmc.requests.some((r) => r.path === '/redfish/v1/Systems/1'),
    'the child read the system',
  );
});

test('one session serves many calls, and a new one is made when the BMC expired it', async (t) => {
  const { bmc, target } = await lab(t, 'rf-session');
  const driver = await agentDriver();
  const logins = () => bmc.requests.filter((r) => r.method === 'POST' && r.path === '/redfish/v1/SessionService/Sessions').length;
  t.is(await driver.state(target, call), 'off');
  t.is(await driver.state(target, call), 'off');
  t.is(logins(), 1);
  t.true(bmc.requests.filter((r) => r.path.startsWith('/redfish/v1/Systems')).every((r) => r.auth === 'session'));
  bmc.expireSessions();
  t.deepEqual(await driver.setNextBoot(target, 'disk', call), { note: 'next boot Hdd (Continuous)' });
  t.is(bmc.nextBoot(), 'disk');
  t.is(logins(), 2);
  t.true(
    bmc.requests.some((r) => r.auth === 'denied' && r.status === 401),
    'the old token was refused first',
  );
  // Calls made together share one login, fresh or after an expiry: BMCs have few session slots.
  const together = await redfishLab('rf-session-together');
  t.teardown(() => together.close());
  const many = (n: number) => Promise.all(Array.from({ length: n }, () => driver.state(together.target, call)));
  const loginsTo = () => together.bmc.requests.filter((r) => r.method === 'POST' && r.path === '/redfish/v1/SessionService/Sessions').length;
  t.deepEqual(await many(4), ['off', 'off', 'off', 'off']);
  t.is(loginsTo(), 1);
  together.bmc.expireSessions();
  t.deepEqual(await many(4), ['off', 'off', 'off', 'off']);
  t.is(loginsTo(), 2);
});

test('a BMC without a SessionService gets HTTP basic auth', async (t) => {
  const { bmc, target } = await lab(t, 'rf-basic', { sessions: false });
  const driver = await agentDriver();
  t.deepEqual(await driver.checkCredentials(target, call), { state: 'off' });
  await driver.setNextBoot(target, 'network', call);
  t.is(bmc.nextBoot(), 'network');
  t.false(
    bmc.requests.some((r) => r.path.startsWith('/redfish/v1/SessionService')),
    'no session was asked for',
  );
  t.true(bmc.requests.filter((r) => r.path.startsWith('/redfish/v1/Systems')).every((r) => r.auth === 'basic'));
  const wrong = await failure(driver.state({ ...target, bmc: { ...target.bmc, password: 'wrong-password' } }, call));
  t.is(wrong.reason, 'auth');
  t.regex(wrong.message, /GET \/redfish\/v1\/Systems\): 401 Unauthorized: .*no valid session/);
});

test('bmc.options.auth token sends bmc.password as the X-Auth-Token', async (t) => {
  const { bmc, target } = await lab(t, 'rf-token');
  const driver = await agentDriver();
  const token = await newSessionToken(bmc.address);
  const tokenTarget: PowerTarget = { ...target, bmc: { ...target.bmc, username: undefined, password: token, options: { auth: 'token' } } };
  t.is(await driver.state(tokenTarget, call), 'off');
  t.is(bmc.requests.filter((r) => r.method === 'POST').length, 1, 'only the test logged in');
  const err = await failure(driver.state({ ...tokenTarget, bmc: { ...tokenTarget.bmc, password: 'expired-token' } }, call));
  t.is(err.reason, 'auth');
  t.regex(err.message, /401 Unauthorized/);
});

test("wrong credentials: auth, with the BMC's status line and Redfish message", async (t) => {
  const { bmc, target } = await lab(t, 'rf-wrong');
  const driver = await agentDriver();
  bmc.requireCredentials(username, 'a-rotated-password');
  const err = await failure(driver.on(target, call));
  t.is(err.reason, 'auth');
  t.is(
    err.message,
    `redfish ${bmc.address}: log in as ${username} (POST /redfish/v1/SessionService/Sessions): 401 Unauthorized: A general error has occurred. See ExtendedInfo for more information. While accessing the resource at '/redfish/v1/SessionService/Sessions', the service received an authorization error 'invalid user name or password'.`,
  );
  t.false(bmc.requests.some((r) => r.path.endsWith('ComputerSystem.Reset')));
});

test("other refusals are refused with the BMC's words, and an override the BMC drops fails", async (t) => {
  const { bmc, target } = await lab(t, 'rf-refused', { ignoresBootOverride: true });
  const driver = await agentDriver();
  const missing = await failure(driver.state({ ...target, bmc: { ...target.bmc, options: { systemPath: '/redfish/v1/Systems/42' } } }, call));
  t.is(missing.reason, 'refused');
  t.regex(
    missing.message,
    /^redfish https:\/\/127\.0\.0\.1:\d+: read the system \(GET \/redfish\/v1\/Systems\/42\): 404 Not Found: .*'\/redfish\/v1\/Systems\/42' was not found/,
  );
  const dropped = await failure(driver.setNextBoot(target, 'network', call));
  t.is(dropped.reason, 'refused');
  t.regex(dropped.message, /set next boot Pxe Once .*reads back BootSourceOverrideTarget None, BootSourceOverrideEnabled Disabled/);
  t.is(bmc.nextBoot(), 'disk');
});

test('the test BMC refuses a ResetType it does not list with a Redfish 400', async (t) => {
  const { bmc } = await lab(t, 'rf-badreset');
  const token = await newSessionToken(bmc.address);
  const answer = await new Promise<{ status?: number; body: string }>((resolve, reject) => {
    const req = request(
      `${bmc.address}/redfish/v1/Systems/1/Actions/ComputerSystem.Reset`,
      { method: 'POST', rejectUnauthorized: false, headers: { 'X-Auth-Token': token, 'Content-Type': 'application/json' } },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ ResetType: 'Nmi' }));
  });
  t.is(answer.status, 400);
  const error = (JSON.parse(answer.body) as { error: { code: string; '@Message.ExtendedInfo': Array<{ MessageId: string }> } }).error;
  t.regex(error['@Message.ExtendedInfo'][0]!.MessageId, /^Base\.1\.\d+\.\d+\.ActionParameterValueNotInList$/);
  t.false(bmc.vm.running());
});

test('the password appears in no error message', async (t) => {
  const { bmc, target } = await lab(t, 'rf-secret');
  const basicOnly = await lab(t, 'rf-secret-basic', { sessions: false });
  const silent = await silentServer();
  t.teardown(() => silent.close());
  const driver = await agentDriver();
  bmc.requireCredentials(username, 'another-password');
  basicOnly.bmc.requireCredentials(username, 'another-password');
  const errors = await Promise.all([
    failure(driver.on(target, call)),
    failure(driver.on(basicOnly.target, call)),
    failure(driver.state({ ...target, bmc: { ...target.bmc, insecure: false } }, call)),
    failure(driver.state(targetOf({ address: await deadAddress() }), call)),
    failure(driver.state(targetOf({ address: silent.address }), { timeoutMs: 500 })),
    failure(driver.state({ ...target, bmc: { ...target.bmc, address: `http://127.0.0.1:1` } }, call)),
  ]);
  t.deepEqual(
    errors.map((e) => e.reason),
    ['auth', 'auth', 'unreachable', 'unreachable', 'timeout', 'unreachable'],
  );
  t.regex(
    errors[3].message,
    /^redfish https:\/\/127\.0\.0\.1:\d+: .*: the BMC could not be reached \(connect ECONNREFUSED /,
    'a refused connection says the BMC could not be reached',
  );
  const basic = Buffer.from(`${username}:${password}`).toString('base64');
  for (const err of errors) {
    t.false(err.message.includes(password), err.message);
    t.false(err.message.includes(basic), err.message);
  }
  t.false(JSON.stringify(bmc.requests).includes(password), "nor in the BMC's request log");
});
