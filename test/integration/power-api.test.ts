/**
 * Power on the control plane, on both stores: BMC credentials are accepted, sealed at
 * rest and returned by no route, audit record or import report; `bmc.type` and address
 * are checked against the installed power drivers; a power command travels to the site's
 * agent as a `power` work item and its answer comes back (200), a BMC failure is a 502
 * with the BMC's message, silence a 504, no agent a 409; the poll queues one work item
 * per site and `power.state` reports show in the machine's view, a deployed machine
 * powered off as a mismatch. The site's agent is played over the HTTP transport's own
 * endpoints, as a real agent would speak.
 */
import test from 'ava';
import { join } from 'node:path';
import { backends, startHarness } from '@sprout/test-support/harness.ts';
import { nextMac, siteWithNetwork } from '@sprout/test-support/control-plane.ts';
import { until } from '@sprout/test-support/until.ts';
import { fakeAgent } from '@sprout/test-support/fake-power-agent.ts';

const fixtureDir = join(import.meta.dirname, '../../kernel/test/fixtures/plugin-dirs/power-fixture');
const secret = 'Pa55-word-that-must-never-show';

const machineBody = (site: string, hostname: string, bmc?: Record<string, unknown>) => ({
  site,
  hostname,
  arch: 'x86_64',
  bootMode: 'bios',
  interfaces: [{ mac: nextMac() }],
  ...(bmc ? { bmc } : {}),
});

for (const backend of backends) {
  test.serial(`${backend}: BMC credentials are sealed at rest and returned by no route, audit record or import report`, async (t) => {
    const h = await startHarness(backend, { env: { SPROUT_PLUGIN_DIR: fixtureDir } });
    t.teardown(() => h.stop());
    await siteWithNetwork(h, 'pw', 60);
    const created = await h.request({
      method: 'POST',
      url: '/v1/machines',
      body: machineBody('pw', 'node-01', {
        type: 'fakebmc',
        address: 'bmc1:623',
        username: 'admin',
        password: secret,
        insecure: true,
        options: { cipherSuite: 3 },
      }),
    });
    t.is(created.status, 201, JSON.stringify(created.body));
    t.deepEqual(created.body.bmc, {
      type: 'fakebmc',
      address: 'bmc1:623',
      username: 'admin',
      insecure: true,
      options: { cipherSuite: 3 },
      credentialsSet: true,
    });
    t.deepEqual(created.body.power, { state: null, checkedAt: null, error: null });

    const row = await h.kernel.store.db('machines').where({ id: created.body.id }).first();
    t.false(JSON.stringify(row).includes(secret), 'no plaintext in the machine row');
    t.regex(row.bmc_secret, /^v1:/);
    t.is(h.kernel.services.credentials.open(created.body.id, row.bmc_secret), secret, 'the sealed value opens to the password');

    // An update that keeps the type keeps the password; a type change or null clears it.
    const renamed = await h.request({
      method: 'PATCH',
      url: '/v1/machines/node-01',
      body: { bmc: { type: 'fakebmc', address: 'bmc2:623', username: 'root' } },
    });
    t.is(renamed.status, 200);
    t.true(renamed.body.bmc.credentialsSet);
    const cleared = await h.request({ method: 'PATCH', url: '/v1/machines/node-01', body: { bmc: { type: 'fakebmc', address: 'bmc2:623', password: null } } });
    t.false(cleared.body.bmc.credentialsSet);
    const reset = await h.request({
      method: 'PATCH',
      url: '/v1/machines/node-01',
      body: { bmc: { type: 'fakebmc', address: 'bmc2:623', password: `${secret}-2` } },
    });
    t.true(reset.body.bmc.credentialsSet);
    const manual = await h.request({ method: 'PATCH', url: '/v1/machines/node-01', body: { bmc: { type: 'manual' } } });
    t.deepEqual(manual.body.bmc, { type: 'manual', address: null, username: null, insecure: false, options: {}, credentialsSet: false });
    await h.request({ method: 'PATCH', url: '/v1/machines/node-01', body: { bmc: { type: 'fakebmc', address: 'bmc2:623', password: `${secret}-3` } } });

    const csv = [
      'site,hostname,arch,bootMode,mac,bmc_type,bmc_address,bmc_username,bmc_password',
      `pw,node-02,x86_64,bios,${nextMac()},fakebmc,bmc3:623,admin,${secret}-csv`,
      `pw,node-03,x86_64,bios,${nextMac()},nope,bmc4:623,admin,${secret}-bad`,
    ].join('\n');
    const imported = await h.request({ method: 'POST', url: '/v1/machines/import', body: csv, headers: { 'content-type': 'text/csv' } });
    t.is(imported.status, 200);
    t.deepEqual(
      imported.body.rows.map((r: any) => r.outcome),
      ['created', 'error'],
    );
    t.is(imported.body.rows[1].errors[0].field, 'bmc/type');
    const fromJson = await h.request({
      method: 'POST',
      url: '/v1/machines/import',
      body: [machineBody('pw', 'node-04', { type: 'fakebmc', address: 'bmc5:623', password: `${secret}-json` })],
    });
    t.is(fromJson.body.created, 1);

    const bodies = [
      created.body,
      renamed.body,
      cleared.body,
      reset.body,
      imported.body,
      fromJson.body,
      (await h.request({ url: '/v1/machines?limit=100' })).body,
      ...(await Promise.all(['node-01', 'node-02', 'node-04'].map(async (name) => (await h.request({ url: `/v1/machines/${name}` })).body))),
      (await h.request({ url: '/v1/machines/node-01/events' })).body,
      (await h.request({ url: '/v1/audit?limit=200' })).body,
    ];
    t.is((await h.request({ url: '/v1/machines/node-02' })).body.bmc.credentialsSet, true);
    const everything = JSON.stringify(bodies) + JSON.stringify(await h.kernel.store.db('audit_records').select('details'));
    t.false(everything.includes(secret.slice(0, 12)), 'no route, audit record or import report shows a password');
    for (const m of await h.kernel.store.db('machines').select('bmc', 'bmc_secret')) t.false(JSON.stringify(m).includes(secret.slice(0, 12)));
    const updates = await h.kernel.store.db('audit_records').where({ action: 'machine.update' }).orderBy('id');
    const credentialChanges = updates.map((u: any) => (typeof u.details === 'string' ? JSON.parse(u.details) : u.details).credentials).filter(Boolean);
    t.deepEqual(credentialChanges, [
      { old: 'set', new: 'not set' },
      { old: 'not set', new: 'set' },
      { old: 'set', new: 'not set' },
      { old: 'not set', new: 'set' },
    ]);
  });

  test.serial(`${backend}: bmc.type and bmc.address are checked against the installed power drivers`, async (t) => {
    const h = await startHarness(backend, { env: { SPROUT_PLUGIN_DIR: fixtureDir } });
    t.teardown(() => h.stop());
    await siteWithNetwork(h, 'pv', 61);
    const unknown = await h.request({ method: 'POST', url: '/v1/machines', body: machineBody('pv', 'x1', { type: 'nope', address: 'a:1' }) });
    t.is(unknown.status, 400);
    t.is(unknown.body.errors[0].field, 'bmc/type');
    t.regex(unknown.body.errors[0].message, /known: fakebmc, ipmi, lab, manual, redfish$/);
    const noAddress = await h.request({ method: 'POST', url: '/v1/machines', body: machineBody('pv', 'x2', { type: 'fakebmc' }) });
    t.is(noAddress.status, 400);
    t.deepEqual(noAddress.body.errors, [{ field: 'bmc/address', message: 'is required for bmc type fakebmc' }]);
    const badAddress = await h.request({ method: 'POST', url: '/v1/machines', body: machineBody('pv', 'x3', { type: 'fakebmc', address: 'no port' }) });
    t.deepEqual(badAddress.body.errors, [{ field: 'bmc/address', message: 'must be host:port' }]);
    const badUpdate = await h.request({ method: 'POST', url: '/v1/machines', body: machineBody('pv', 'x4') });
    t.is(badUpdate.status, 201);
    const patched = await h.request({ method: 'PATCH', url: '/v1/machines/x4', body: { bmc: { type: 'fakebmc', address: 'nope' } } });
    t.is(patched.status, 400);
    t.is(patched.body.errors[0].field, 'bmc/address');
    const manual = await h.request({ method: 'POST', url: '/v1/machines', body: machineBody('pv', 'x5', { type: 'manual' }) });
    t.is(manual.status, 201);
    const tooMany = await h.request({
      method: 'POST',
      url: '/v1/machines',
      body: machineBody('pv', 'x6', { type: 'fakebmc', address: 'a:1', options: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])) }),
    });
    t.is(tooMany.status, 400);
    t.regex(tooMany.body.errors[0].field, /bmc\/options/);
  });

  test.serial(`${backend}: without a third-party power plugin only the builtin drivers are known bmc types`, async (t) => {
    const h = await startHarness(backend);
    t.teardown(() => h.stop());
    await siteWithNetwork(h, 'pn', 62);
    const ipmi = await h.request({ method: 'POST', url: '/v1/machines', body: machineBody('pn', 'y1', { type: 'fakebmc', address: 'a:1' }) });
    t.is(ipmi.status, 400);
    t.regex(ipmi.body.errors[0].message, /known: ipmi, lab, manual, redfish$/);
    t.is((await h.request({ method: 'POST', url: '/v1/machines', body: machineBody('pn', 'y2', { type: 'manual' }) })).status, 201);
  });

  test.serial(`${backend}: power commands reach the site's agent and come back: 200, 502 with the BMC's message, 504, 409`, async (t) => {
    const h = await startHarness(backend, {
      env: { SPROUT_PLUGIN_DIR: fixtureDir },
      yaml: 'plugins:\n  transport-http: { pollIntervalMs: 50 }\npower:\n  callTimeoutSeconds: 1\n',
    });
    t.teardown(() => h.stop());
    const { joinToken } = await siteWithNetwork(h, 'pc', 63);
    await siteWithNetwork(h, 'lonely', 64);
    const machine = (
      await h.request({
        method: 'POST',
        url: '/v1/machines',
        body: machineBody('pc', 'node-01', { type: 'fakebmc', address: 'bmc1:623', username: 'admin', password: secret }),
      })
    ).body;
    await h.request({ method: 'POST', url: '/v1/machines', body: machineBody('lonely', 'alone-01') });

    const noAgent = await h.request({ method: 'POST', url: '/v1/machines/alone-01/power', body: { action: 'on' } });
    t.is(noAgent.status, 409);
    t.regex(noAgent.body.detail, /site lonely has no agent/);

    const agent = await fakeAgent(h.request, joinToken, () => h.kernel.services.dispatcher.drain());
    const viewer = await h.token('viewer');
    t.is(
      (await h.request({ method: 'POST', url: '/v1/machines/node-01/power', token: viewer, body: { action: 'on' } })).status,
      403,
      'a viewer may not power machines',
    );

    // status, answered by the agent
    const status = h.request({ url: '/v1/machines/node-01/power', token: viewer });
    const item = await agent.work('power');
    t.like(item.payload, {
      action: 'status',
      callTimeoutMs: 1000,
      power: { machineId: machine.id, hostname: 'node-01', bmc: { type: 'fakebmc', address: 'bmc1:623', username: 'admin', password: secret } },
    });
    t.is(item.workflowId, null);
    await agent.report('task.succeeded', item.id, { result: { state: 'off' } });
    const answered = await status;
    t.is(answered.status, 200, JSON.stringify(answered.body));
    t.like(answered.body, { machine: 'node-01', action: 'status', state: 'off', bmc: { type: 'fakebmc', address: 'bmc1:623' } });
    t.like((await h.request({ url: '/v1/machines/node-01' })).body.power, { state: 'off', error: null });
    const outboxRow = await h.kernel.store.db('outbox').where({ kind: 'power' }).first();
    t.false(JSON.stringify(outboxRow.payload).includes(secret), 'the settled outbox row no longer holds the credentials');
    const acknowledged = await h.kernel.store.db('outbox').whereNotNull('acked_at');
    t.true(acknowledged.length > 0, 'the agent acknowledged its work (the HTTP transport leases from the outbox)');
    t.false(JSON.stringify(acknowledged).includes(secret), 'no acknowledged work item holds the credentials');

    // on
    const on = h.request({ method: 'POST', url: '/v1/machines/node-01/power', body: { action: 'on' } });
    const onItem = await agent.work('power');
    t.is(onItem.payload.action, 'on');
    await agent.report('task.succeeded', onItem.id, { result: { state: 'on', note: 'was off' } });
    t.like((await on).body, { action: 'on', state: 'on', note: 'was off' });

    // the BMC refuses: 502 with its message and reason
    const off = h.request({ method: 'POST', url: '/v1/machines/node-01/power', body: { action: 'off', soft: true } });
    const offItem = await agent.work('power');
    t.like(offItem.payload, { action: 'off', soft: true });
    await agent.report('task.failed', offItem.id, { error: 'power off: Error: Unable to establish IPMI v2 / RMCP+ session', reason: 'auth' });
    const refused = await off;
    t.is(refused.status, 502);
    t.is(refused.body.code, 'SPROUT_ERR_BMC');
    t.is(refused.body.detail, 'power off: Error: Unable to establish IPMI v2 / RMCP+ session');
    t.is(refused.body.reason, 'auth');
    t.like((await h.request({ url: '/v1/machines/node-01' })).body.power, {
      state: 'on',
      error: 'power off: Error: Unable to establish IPMI v2 / RMCP+ session',
    });

    // nobody answers: 504 after the call timeout plus the grace
    const silent = await h.request({ method: 'POST', url: '/v1/machines/node-01/power', body: { action: 'cycle' } });
    t.is(silent.status, 504);
    t.is(silent.body.code, 'SPROUT_ERR_AGENT_TIMEOUT');
    t.regex(silent.body.detail, /agent at site pc did not answer/);

    const cached = await h.request({ url: '/v1/machines/node-01/power?cached=true', token: viewer });
    t.like(cached.body, { cached: true, state: 'on' });

    const audit = await h.kernel.store.db('audit_records').where('action', 'like', 'machine.power%').orderBy('id');
    t.deepEqual(
      audit.map((r: any) => [r.action, r.outcome]),
      [
        ['machine.power.on', 'failed'],
        ['machine.power', 'denied'],
        ['machine.power.status', 'success'],
        ['machine.power.on', 'success'],
        ['machine.power.off', 'failed'],
        ['machine.power.cycle', 'failed'],
      ],
    );
    const offDetails = typeof audit[4].details === 'string' ? JSON.parse(audit[4].details) : audit[4].details;
    t.like(offDetails, { hostname: 'node-01', reason: 'auth', error: 'power off: Error: Unable to establish IPMI v2 / RMCP+ session' });
    t.false(JSON.stringify(audit).includes(secret.slice(0, 12)));
  });

  test.serial(
    `${backend}: the poll queues one work item per site with its BMC machines; power.state shows, a deployed machine off is a mismatch`,
    async (t) => {
      const h = await startHarness(backend, {
        env: { SPROUT_PLUGIN_DIR: fixtureDir },
        yaml: 'plugins:\n  transport-http: { pollIntervalMs: 50 }\npower:\n  pollSeconds: 600\n',
      });
      t.teardown(() => h.stop());
      const { joinToken } = await siteWithNetwork(h, 'pp', 65);
      const other = await siteWithNetwork(h, 'pq', 66);
      const a = (
        await h.request({ method: 'POST', url: '/v1/machines', body: machineBody('pp', 'node-a', { type: 'fakebmc', address: 'bmc1:623', password: secret }) })
      ).body;
      await h.request({ method: 'POST', url: '/v1/machines', body: machineBody('pp', 'node-m', { type: 'manual' }) });
      await h.request({ method: 'POST', url: '/v1/machines', body: machineBody('pp', 'node-n') });
      const foreign = (await h.request({ method: 'POST', url: '/v1/machines', body: machineBody('pq', 'node-q', { type: 'fakebmc', address: 'bmc9:623' }) }))
        .body;
      const agent = await fakeAgent(h.request, joinToken, () => h.kernel.services.dispatcher.drain());

      t.is(await h.kernel.services.power.poll(), 1, 'one site has an agent and BMC machines');
      t.is(await h.kernel.services.power.poll(), 0, 'its previous poll is still pending');
      const item = await agent.work('power-poll');
      t.deepEqual(
        item.payload.targets.map((target: any) => target.hostname),
        ['node-a'],
      );
      t.like(item.payload, { concurrency: 8, callTimeoutMs: 60_000 });

      await h.kernel.store.db('machines').where({ id: a.id }).update({ status: 'deployed' });
      await agent.report('power.state', null, { machineId: a.id, state: 'off', error: null });
      // another site's machine: refused, not applied
      await agent.report('power.state', null, { machineId: foreign.id, state: 'on' });
      await agent.report('task.succeeded', item.id, { result: { polled: 1, failed: 0 } });
      await until(
        'the poll settled',
        async () => (await h.kernel.store.db('power_requests').where({ action: 'poll' }).first('state')).state === 'succeeded',
        10_000,
      );
      const shown = (await h.request({ url: '/v1/machines/node-a' })).body;
      t.like(shown.power, { state: 'off', error: null });
      t.truthy(shown.power.checkedAt);
      t.is(shown.powerMismatch, 'deployed but powered off');
      const listed = (await h.request({ url: '/v1/machines?site=pp' })).body.items;
      t.deepEqual(
        listed.map((m: any) => [m.hostname, m.power.state, m.powerMismatch]),
        [
          ['node-a', 'off', 'deployed but powered off'],
          ['node-m', null, null],
          ['node-n', null, null],
        ],
      );
      t.is((await h.request({ url: '/v1/machines/node-q' })).body.power.state, null, "another site's agent cannot set a machine's power state");
      const refusals = await h.kernel.store.db('audit_records').where({ action: 'agent.report.refused' });
      t.regex(JSON.stringify(refusals), /is not a machine of site/);
      t.is(await h.kernel.services.power.poll(), 0, 'polled less than pollSeconds ago');
      t.truthy(other);
    },
  );
}
