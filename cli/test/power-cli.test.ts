/**
 * Power as an operator types it, against a real `sprout server`: a machine created with
 * a BMC password read from a file (never echoed back), `machine show` saying whether
 * credentials are set, the POWER column, and `sprout machine power` answered by the
 * site's agent (played over the HTTP transport's endpoints): the state on success, the
 * BMC's own message and exit 1 on failure. The mismatch flag is checked on the renderer.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, sprout, type ServerProcess } from '@sprout/test-support/processes.ts';
import { fakeAgent, httpRequest } from '@sprout/test-support/fake-power-agent.ts';
import { machineDetails, machineTable, type Machine } from '../src/render/machine.ts';

const fixtureDir = fileURLToPath(new URL('../../kernel/test/fixtures/plugin-dirs/power-fixture', import.meta.url));
const secret = 'cli-Secret-never-printed';

test('machine create --bmc-password-file, show, list and power status/on/off through the agent', async (t) => {
  let server: ServerProcess | undefined;
  t.teardown(() => server?.stop());
  server = await startServer({ SPROUT_PLUGIN_DIR: fixtureDir }, 'plugins:\n  transport-http: { pollIntervalMs: 50 }\n');
  const run = (...args: string[]) => sprout(args, { cwd: server!.dir, env: server!.env });
  const site = await run('site', 'create', 'pw', '--json');
  t.is(site.code, 0, site.stderr);
  const joinToken = JSON.parse(site.stdout).joinToken.token;
  const passwordFile = join(server.dir, 'bmc.pass');
  writeFileSync(passwordFile, `${secret}\n`, { mode: 0o600 });

  const created = await run(
    'machine',
    'create',
    'node-01',
    '--site',
    'pw',
    '--mac',
    '52:54:00:77:00:01',
    '--bmc-type',
    'fakebmc',
    '--bmc-address',
    'bmc1:623',
    '--bmc-username',
    'admin',
    '--bmc-password-file',
    passwordFile,
  );
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /bmc:\s+fakebmc bmc1:623 \(user admin\); credentials: set/);
  t.regex(created.stdout, /power:\s+never checked/);
  const bad = await run('machine', 'create', 'node-02', '--site', 'pw', '--mac', '52:54:00:77:00:02', '--bmc-type', 'fakebmc');
  t.is(bad.code, 1);
  t.regex(bad.stderr, /bmc\/address: is required for bmc type fakebmc/);
  const viaEnv = await sprout(
    ['machine', 'create', 'node-03', '--site', 'pw', '--mac', '52:54:00:77:00:03', '--bmc-type', 'fakebmc', '--bmc-address', 'bmc3:623'],
    { cwd: server.dir, env: { ...server.env, SPROUT_BMC_PASSWORD: secret } },
  );
  t.regex(viaEnv.stdout, /credentials: set/);

  const updated = await run('machine', 'update', 'node-01', '--bmc-address', 'bmc2:623');
  t.is(updated.code, 0, updated.stderr);
  t.regex(updated.stdout, /fakebmc bmc2:623 \(user admin\); credentials: set/, 'the password stays when only the address changes');
  const cleared = await run('machine', 'update', 'node-03', '--clear-bmc-password');
  t.regex(cleared.stdout, /credentials: not set/);

  const list = await run('machine', 'list');
  t.regex(list.stdout, /^HOSTNAME\s+SITE\s+STATUS\s+POWER\s+/m);
  t.regex(list.stdout, /node-01\s+pw\s+new\s+\?\s+/);

  const agent = await fakeAgent(httpRequest(`http://127.0.0.1:${server.port}`, ''), joinToken);
  const status = run('machine', 'power', 'status', 'node-01');
  const item = await agent.work('power');
  t.like(item.payload, { action: 'status', power: { bmc: { address: 'bmc2:623', password: secret } } });
  await agent.report('task.succeeded', item.id, { result: { state: 'on' } });
  const answered = await status;
  t.is(answered.code, 0, answered.stderr);
  t.is(answered.stdout.trim(), 'node-01: on (fakebmc bmc2:623, checked just now)');

  const off = run('machine', 'power', 'off', 'node-01', '--soft', '--json');
  const offItem = await agent.work('power');
  t.like(offItem.payload, { action: 'off', soft: true });
  await agent.report('task.failed', offItem.id, { error: 'power off: the BMC said: Insufficient privilege level', reason: 'refused' });
  const refused = await off;
  t.is(refused.code, 1);
  t.like(JSON.parse(refused.stdout), { code: 'SPROUT_ERR_BMC', detail: 'power off: the BMC said: Insufficient privilege level', reason: 'refused' });

  const shown = await run('machine', 'show', 'node-01');
  t.regex(shown.stdout, /power:\s+on \(checked just now\)/);
  t.regex(shown.stdout, /last check failed: power off: the BMC said: Insufficient privilege level/);
  for (const output of [created, viaEnv, updated, list, answered, refused, shown]) t.false(output.stdout.includes(secret) || output.stderr.includes(secret));
  t.false(server.log().includes(secret), 'the server never logs the password');
});

test('a deployed machine its BMC says is off is flagged in machine list and warned about in machine show', (t) => {
  const machine = {
    id: 'm1',
    site: { id: 's', name: 'dc1' },
    hostname: 'node-09',
    arch: 'x86_64',
    bootMode: 'bios',
    status: 'deployed',
    statusReason: null,
    statusChangedAt: new Date().toISOString(),
    statusDeadline: null,
    currentWorkflow: null,
    allowedActions: [],
    tags: [],
    interfaces: [],
    bmc: { type: 'ipmi', address: '198.18.0.2', username: 'admin', insecure: false, options: {}, credentialsSet: true },
    power: { state: 'off', checkedAt: new Date(Date.now() - 180_000).toISOString(), error: null },
    powerMismatch: 'deployed but powered off',
    expected: {},
    hardware: {},
    owner: null,
    hardwareTests: [],
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
  } as unknown as Machine;
  t.regex(machineTable([machine]), /node-09\s+dc1\s+deployed\s+off!\s+/);
  const details = machineDetails(machine);
  t.regex(details, /warning: deployed but powered off \(its BMC says off\)/);
  t.regex(details, /power:\s+off \(checked 3 min ago\)/);
  t.regex(details, /credentials: set/);
});
