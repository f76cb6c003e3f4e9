/**
 * Config alone picks the providers: a control plane started with the NetBox, Kea and
 * PowerDNS stubs selected allocates, reserves and writes records through fakes of those
 * APIs; restarted on the same database without the selection it uses the builtins and the
 * fakes hear nothing more; restarted with NetBox again it finds NetBox's allocations
 * where it left them. The audit trail and the workflow steps name the provider that
 * served each allocation. Both stores.
 */
import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { Kernel, loadConfig } from '@sprout/kernel';
import { builtinPlugins } from '@sprout/cli/builtin-plugins';
import { backends, postgresUrl, withPostgres, type Backend, type Harness } from '@sprout/test-support/harness.ts';
import { createMachine, finishSiteStep, siteWithNetwork, waitForWorkflow } from '@sprout/test-support/control-plane.ts';
import { startFakeNetbox } from '@sprout/test-support/fake-netbox.ts';
import { startFakeKea } from '../../plugins/kea-stub/test/fake-kea.ts';
import { startFakePowerdns } from '@sprout/test-support/fake-powerdns.ts';

/** A control plane on a store that outlives it: PGlite on disk under `dataDir`, or a PostgreSQL schema. */
async function bootOn(backend: Backend, store: { dataDir: string; schema?: string; adminToken: string }, yaml: string): Promise<Harness> {
  const file = join(store.dataDir, 'sprout.yaml');
  writeFileSync(file, yaml);
  const { adminToken } = store;
  const { config } = loadConfig({
    file,
    env: {
      SPROUT_DATA_DIR: store.dataDir,
      SPROUT_LOG_LEVEL: 'silent',
      SPROUT_ADMIN_TOKEN: adminToken,
      ...(backend === 'postgres' ? { SPROUT_DATABASE_URL: postgresUrl } : {}),
    },
  });
  const kernel = await Kernel.boot({
    config,
    builtinPlugins,
    logger: pino({ level: 'silent' }),
    background: false,
    store: backend === 'postgres' ? { schema: store.schema } : {},
  });
  return {
    kernel,
    config,
    dataDir: store.dataDir,
    adminToken,
    token: () => Promise.reject(new Error('not used here')),
    async request({ method = 'GET', url, body }) {
      const response = await kernel.app!.inject({
        method: method as 'GET',
        url,
        headers: { authorization: `Bearer ${adminToken}` },
        ...(body === undefined ? {} : { payload: body as object }),
      });
      return { status: response.statusCode, body: response.body ? JSON.parse(response.body) : undefined, headers: response.headers as Record<string, unknown> };
    },
    stop: () => kernel.stop(),
  };
}

/** The three fakes, a store that outlives restarts, and the config that selects the stubs; all removed after the test. */
async function world(t: ExecutionContext, backend: Backend) {
  const netbox = await startFakeNetbox();
  const kea = await startFakeKea({ subnets: [50] });
  const pdns = await startFakePowerdns({ zones: ['sw.lab.example', '50.18.198.in-addr.arpa'] });
  const store = {
    dataDir: mkdtempSync(join(tmpdir(), 'sprout-switch-')),
    schema: backend === 'postgres' ? `t_${randomBytes(6).toString('hex')}` : undefined,
    adminToken: `sprout_test_admin_${randomBytes(16).toString('hex')}`,
  };
  if (store.schema) await withPostgres((db) => db.raw(`create schema ${store.schema}`));
  const w = {
    netbox,
    kea,
    pdns,
    stubs: '',
    prefix: netbox.addPrefix('198.18.50.0/24'),
    running: undefined as Harness | undefined,
    /** Stops what runs and starts a control plane with `yaml` on the same store. */
    async restart(yaml: string): Promise<Harness> {
      await w.running?.stop();
      w.running = undefined;
      return (w.running = await bootOn(backend, store, yaml));
    },
  };
  t.teardown(async () => {
    await w.running?.stop();
    await Promise.all([netbox.close(), kea.close(), pdns.close()]);
    if (store.schema) await withPostgres((db) => db.raw(`drop schema ${store.schema} cascade`));
    rmSync(store.dataDir, { recursive: true, force: true });
  });
  w.stubs = [
    'capabilities:',
    '  ipam: { use: netbox-stub }',
    '  dhcp: { use: kea-stub }',
    '  dns: { use: powerdns-stub }',
    'plugins:',
    `  netbox-stub: { url: "${netbox.url}", token: "${netbox.token}", prefixes: { "198.18.50.0/24": ${w.prefix} } }`,
    `  kea-stub: { url: "${kea.url}", subnets: { "198.18.50.0/24": 50 }, nextServer: "198.18.50.2", bootFileName: "undionly.kpxe" }`,
    `  powerdns-stub: { url: "${pdns.url}", apiKey: "${pdns.apiKey}", zones: [sw.lab.example, 50.18.198.in-addr.arpa] }`,
    '',
  ].join('\n');
  return w;
}

for (const backend of backends) {
  test(`${backend}: ipam, dhcp and dns switch from the stubs to the builtins by config alone; the audit trail names who served each allocation`, async (t) => {
    const w = await world(t, backend);
    const { netbox, kea, pdns, stubs, prefix } = w;
    const commission = async (h: Harness, hostname: string) => {
      const machine = await createMachine(h, 'sw', hostname);
      const started = await h.request({ method: 'POST', url: `/v1/machines/${hostname}/commission`, body: { hwtest: false } });
      t.is(started.status, 202, JSON.stringify(started.body));
      // No agent here: the site's answer to check-bmc is played, then the control steps run.
      t.is(await finishSiteStep(h, started.body.id, { ok: true, result: { driver: 'manual', state: 'unknown' } }), 'check-bmc');
      const wf = await waitForWorkflow(
        h,
        started.body.id,
        (w) => w.steps.some((s: any) => s.name === 'power-on' && s.state === 'dispatched') || w.state === 'failed',
      );
      t.deepEqual(
        wf.steps.slice(0, 6).map((s: any) => [s.name, s.state]),
        [
          ['check-bmc', 'succeeded'],
          ['allocate-ip', 'succeeded'],
          ['reserve-dhcp', 'succeeded'],
          ['write-dns', 'succeeded'],
          ['publish-boot-intent', 'succeeded'],
          ['power-on', 'dispatched'],
        ],
        JSON.stringify(wf.steps),
      );
      // What the site's agents are told: the site's desired state, built from the active providers.
      const desired = await h.kernel.desiredState(machine.site.id);
      return { mac: machine.interfaces[0].mac as string, step: wf.steps[1].result, desired };
    };

    // 1. The stubs, selected in config.
    let running = await w.restart(stubs);
    await siteWithNetwork(running, 'sw', 50);
    const viaNetbox = await running.request({ method: 'POST', url: '/v1/networks/sw-prov/allocations', body: { hostname: 'bastion' } });
    t.is(viaNetbox.status, 201, JSON.stringify(viaNetbox.body));
    t.like(viaNetbox.body, { address: '198.18.50.10', hostname: 'bastion', provider: 'netbox-stub' });
    t.true(netbox.calls.includes(`POST /api/ipam/prefixes/${prefix}/available-ips/`), 'NetBox picked the address');
    t.is(netbox.ips.get(Number(viaNetbox.body.id))?.address, '198.18.50.10/24');

    const first = await commission(running, 'sw-01');
    t.like(first.step, { address: '198.18.50.11', provider: 'netbox-stub' });
    t.like(
      kea.hosts.find((h) => h['hw-address'] === first.mac),
      { 'subnet-id': 50, 'ip-address': '198.18.50.11', hostname: 'sw-01', 'boot-file-name': 'undionly.kpxe' },
    );
    t.deepEqual(pdns.zones.get('sw.lab.example.')?.get('sw-01.sw.lab.example. A')?.records, [{ content: '198.18.50.11', disabled: false }]);
    t.deepEqual(pdns.zones.get('50.18.198.in-addr.arpa.')?.get('11.50.18.198.in-addr.arpa. PTR')?.records, [
      { content: 'sw-01.sw.lab.example.', disabled: false },
    ]);
    t.like(first.desired.reservations, [{ mac: first.mac, address: '198.18.50.11', netboot: true }], 'the agent is told the reservations Kea holds');
    t.is(first.desired.dnsRecords.length, 2, 'and the records PowerDNS holds');

    // 2. Nothing selected: the builtins, and the fakes hear nothing more.
    const heard = { netbox: netbox.calls.length, kea: kea.commands.length, pdns: pdns.requests.length };
    running = await w.restart('');
    const viaBuiltin = await running.request({ method: 'POST', url: '/v1/networks/sw-prov/allocations', body: { hostname: 'bastion-2' } });
    t.is(viaBuiltin.status, 201, JSON.stringify(viaBuiltin.body));
    t.like(viaBuiltin.body, { hostname: 'bastion-2', provider: 'ipam-builtin' });
    const second = await commission(running, 'sw-02');
    t.is(second.step.provider, 'ipam-builtin');
    t.like(second.desired.reservations, [{ mac: second.mac, address: second.step.address }], 'the builtin DHCP holds only its own reservation');
    t.deepEqual({ netbox: netbox.calls.length, kea: kea.commands.length, pdns: pdns.requests.length }, heard);

    const audit = await running.request({ url: '/v1/audit?action=ip.allocate' });
    const served = audit.body.items.map((a: any) => [a.details.hostname, a.details.address, a.details.provider, a.outcome]).sort();
    t.deepEqual(served, [
      ['bastion', '198.18.50.10', 'netbox-stub', 'success'],
      ['bastion-2', viaBuiltin.body.address, 'ipam-builtin', 'success'],
    ]);
  });

  // Switching off a plugin whose migrations ran leaves them applied; the kernel boots anyway.
  test(`${backend}: ipam switches from the builtin back to netbox-stub by config alone, and finds NetBox's allocations there`, async (t) => {
    const w = await world(t, backend);
    let running = await w.restart(w.stubs);
    await siteWithNetwork(running, 'sw', 50);
    const viaNetbox = await running.request({ method: 'POST', url: '/v1/networks/sw-prov/allocations', body: { hostname: 'bastion' } });
    t.is(viaNetbox.body.provider, 'netbox-stub');
    running = await w.restart('');
    t.is((await running.request({ method: 'POST', url: '/v1/networks/sw-prov/allocations', body: { hostname: 'bastion-2' } })).body.provider, 'ipam-builtin');
    running = await w.restart(w.stubs);
    const listed = await running.request({ url: '/v1/networks/sw-prov/allocations' });
    t.deepEqual(
      listed.body.items.map((a: any) => [a.address, a.hostname, a.provider]),
      [['198.18.50.10', 'bastion', 'netbox-stub']],
    );
    const again = await running.request({ method: 'POST', url: '/v1/networks/sw-prov/allocations', body: { hostname: 'bastion-3' } });
    t.like(again.body, { address: '198.18.50.11', provider: 'netbox-stub' });
  });
}

test('a stub selected with config it cannot use is refused at boot, every problem named, before the database opens', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-switch-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const yaml = [
    'capabilities:',
    '  ipam: { use: netbox-stub }',
    '  dhcp: { use: kea-stub }',
    '  dns: { use: powerdns-stub }',
    'plugins:',
    '  netbox-stub: { url: "netbox.example", token: "nb-secret", prefixes: { "prov": 3 } }',
    '  kea-stub: { subnets: { "198.18.0.0/24": 0 } }',
    '  powerdns-stub: { url: "http://127.0.0.1:9", zones: [lab.example] }',
    '',
  ].join('\n');
  const err = await t.throwsAsync(bootOn('pglite', { dataDir, adminToken: 'sprout_test_admin_unused' }, yaml));
  t.like(err, { code: 'SPROUT_ERR_PLUGIN_VALIDATION' });
  const fields = ((err as { details?: { field?: string }[] }).details ?? []).map((d) => d.field);
  for (const field of [
    'plugins.netbox-stub.url',
    'plugins.netbox-stub.prefixes.prov',
    'plugins.kea-stub.url',
    'plugins.kea-stub.subnets.198.18.0.0/24',
    'plugins.powerdns-stub.apiKey',
  ]) {
    t.true(
      fields.some((f) => f?.startsWith(field)),
      `${field} in ${JSON.stringify(fields)}`,
    );
  }
  t.false(JSON.stringify(err).includes('nb-secret'));
  t.false(existsSync(join(dataDir, 'pglite')), 'nothing was opened');
});
