/**
 * The operator's control plane on both stores: sites, machines (and CSV import), the
 * lifecycle state machine, workflows from request to waiting-for-an-agent, cancel,
 * completion, failure reasons, the watchdog, and allocation under contention.
 */
import test from 'ava';
import { transportCapability, type DeliveryInfo, type WorkItem } from '@sprout/kernel';
import { backends, startHarness, TestClock, type Harness } from '@sprout/test-support/harness.ts';
import { createMachine, finishSiteStep, nextMac, siteWithNetwork, stepState, waitForWorkflow } from '@sprout/test-support/control-plane.ts';

/** What the HTTP transport's `GET /v1/agents/{id}/work` route calls on its provider (the harness's transport). */
interface LongPoll {
  pollWork(siteId: string, waitMs: number): Promise<{ item: WorkItem; delivery: DeliveryInfo }[]>;
}

for (const backend of backends) {
  let h: Harness;
  const clock = new TestClock();
  test.before(async () => {
    h = await startHarness(backend, { clock, yaml: 'lifecycle:\n  timeouts: { commissioning: 60, deploying: 60 }\n' });
  });
  test.after.always(async () => h?.stop());

  test.serial(`${backend}: sites: create with a join token, refuse duplicates and bad names, update, delete guarded`, async (t) => {
    const created = await h.request({ method: 'POST', url: '/v1/sites', body: { name: 'dc1', description: 'first', labels: { region: 'eu' } } });
    t.is(created.status, 201);
    t.regex(created.body.joinToken.token, /^sprout_join_/);
    t.deepEqual(created.body.site.agents, []);
    t.is((await h.request({ method: 'POST', url: '/v1/sites', body: { name: 'dc1' } })).status, 409);
    const bad = await h.request({ method: 'POST', url: '/v1/sites', body: { name: 'DC 1!' } });
    t.is(bad.status, 400);
    t.true(bad.body.errors.some((e: any) => e.field === 'body/name'));
    const byName = await h.request({ url: '/v1/sites/dc1' });
    t.is(byName.body.id, created.body.site.id);
    const patched = await h.request({ method: 'PATCH', url: '/v1/sites/dc1', body: { description: 'renamed' } });
    t.is(patched.body.description, 'renamed');
    const audit = await h.request({ url: `/v1/audit?action=site.update&target=${created.body.site.id}` });
    t.deepEqual(audit.body.items[0].details.description, { old: 'first', new: 'renamed' });
    const token = await h.request({ method: 'POST', url: '/v1/sites/dc1/join-tokens' });
    t.is(token.status, 201);
    t.not(token.body.token, created.body.joinToken.token);
    await createMachine(h, 'dc1', 'blocker');
    const refused = await h.request({ method: 'DELETE', url: '/v1/sites/dc1' });
    t.is(refused.status, 409);
    t.regex(refused.body.detail, /still has 1 machine/);
    t.is((await h.request({ method: 'DELETE', url: '/v1/machines/blocker' })).status, 204);
    t.is((await h.request({ method: 'DELETE', url: '/v1/sites/dc1' })).status, 204);
    t.is((await h.request({ url: '/v1/sites/dc1' })).status, 404);
  });

  test.serial(`${backend}: machines: normalised MACs unique across Sprout, hostnames per site, filters and cursors`, async (t) => {
    await siteWithNetwork(h, 'm-site', 10);
    const made = await h.request({
      method: 'POST',
      url: '/v1/machines',
      body: {
        site: 'm-site',
        hostname: 'Node-01',
        arch: 'x86_64',
        bootMode: 'uefi',
        interfaces: [{ mac: 'AA-BB-CC-00-00-01' }, { mac: 'aabb.cc00.0002', name: 'ipmi0' }],
        tags: ['rack1', 'gpu'],
        expected: { cpus: 4 },
      },
    });
    t.is(made.status, 201);
    t.is(made.body.hostname, 'node-01');
    t.is(made.body.status, 'new');
    t.deepEqual(made.body.allowedActions, ['commission', 'mark-broken']);
    t.deepEqual(made.body.interfaces.map((i: any) => [i.mac, i.pxe]).sort(), [
      ['aa:bb:cc:00:00:01', true],
      ['aa:bb:cc:00:00:02', false],
    ]);
    const dupMac = await h.request({
      method: 'POST',
      url: '/v1/machines',
      body: { site: 'm-site', hostname: 'node-02', arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac: 'aa:bb:cc:00:00:01' }] },
    });
    t.is(dupMac.status, 409);
    t.regex(dupMac.body.detail, /aa:bb:cc:00:00:01 \(machine node-01\)/);
    const dupHost = await h.request({
      method: 'POST',
      url: '/v1/machines',
      body: { site: 'm-site', hostname: 'node-01', arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac: nextMac() }] },
    });
    t.is(dupHost.status, 409);
    const bad = await h.request({
      method: 'POST',
      url: '/v1/machines',
      body: { site: 'nowhere', hostname: '-bad-', arch: 'sparc', bootMode: 'bios', interfaces: [] },
    });
    t.is(bad.status, 400);
    for (const field of ['body/hostname', 'body/arch', 'body/interfaces'])
      t.true(
        bad.body.errors.some((e: any) => e.field === field),
        field,
      );
    t.is(
      (
        await h.request({
          method: 'POST',
          url: '/v1/machines',
          body: { site: 'nowhere', hostname: 'ok', arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac: nextMac() }] },
        })
      ).body.errors[0].field,
      'site',
    );
    for (let i = 2; i <= 6; i++) await createMachine(h, 'm-site', `node-0${i}`, i % 2 ? { tags: ['rack1'] } : {});
    const rack1 = await h.request({ url: '/v1/machines?site=m-site&tag=rack1' });
    t.deepEqual(
      rack1.body.items.map((m: any) => m.hostname),
      ['node-01', 'node-03', 'node-05'],
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await h.request({ url: `/v1/machines?site=m-site&limit=2${cursor ? `&cursor=${cursor}` : ''}` });
      seen.push(...page.body.items.map((m: any) => m.hostname));
      cursor = page.body.nextCursor;
    } while (cursor);
    t.deepEqual(seen, ['node-01', 'node-02', 'node-03', 'node-04', 'node-05', 'node-06']);
    const patched = await h.request({ method: 'PATCH', url: '/v1/machines/node-02', body: { tags: ['rack2'], expected: { memoryMiB: 2048 } } });
    t.deepEqual(patched.body.tags, ['rack2']);
    const audit = await h.request({ url: `/v1/audit?action=machine.update&target=${patched.body.id}` });
    t.deepEqual(audit.body.items[0].details.tags, { old: [], new: ['rack2'] });
  });

  test.serial(`${backend}: CSV import answers per row; re-importing changes nothing`, async (t) => {
    await siteWithNetwork(h, 'csv-site', 11);
    const lines = ['site,hostname,arch,bootMode,mac,tags'];
    for (let i = 1; i <= 20; i++)
      lines.push(`csv-site,csv-${String(i).padStart(2, '0')},x86_64,${i % 2 ? 'bios' : 'uefi'},${nextMac()} ${nextMac()},"rack${i % 3} blue"`);
    lines[5] = 'csv-site,csv-05,mips,bios,' + nextMac() + ',';
    lines[9] = 'csv-site,csv-09,x86_64,bios,not-a-mac,';
    const csv = lines.join('\n') + '\n';
    const first = await h.request({ method: 'POST', url: '/v1/machines/import', body: csv, headers: { 'content-type': 'text/csv' } });
    t.is(first.status, 200, JSON.stringify(first.body));
    t.like(first.body, { created: 18, unchanged: 0, errors: 2 });
    const errors = first.body.rows.filter((r: any) => r.outcome === 'error');
    t.deepEqual(
      errors.map((r: any) => [r.row, r.hostname, r.errors[0].field]),
      [
        [6, 'csv-05', 'arch'],
        [10, 'csv-09', 'interfaces/0/mac'],
      ],
    );
    const again = await h.request({ method: 'POST', url: '/v1/machines/import', body: csv, headers: { 'content-type': 'text/csv' } });
    t.like(again.body, { created: 0, unchanged: 18, errors: 2 });
    t.is((await h.request({ url: '/v1/machines?site=csv-site&limit=100' })).body.items.length, 18);
    const json = await h.request({
      method: 'POST',
      url: '/v1/machines/import',
      body: [{ site: 'csv-site', hostname: 'csv-json', arch: 'arm64', bootMode: 'uefi', interfaces: [{ mac: nextMac() }] }, { hostname: 'no-site' }],
    });
    t.like(json.body, { created: 1, errors: 1 });
    t.true(json.body.rows[1].errors.some((e: any) => e.field === 'site'));
    const missingHeader = await h.request({
      method: 'POST',
      url: '/v1/machines/import',
      body: 'hostname,mac\nx,aa:bb:cc:dd:ee:ff\n',
      headers: { 'content-type': 'text/csv' },
    });
    t.is(missingHeader.status, 400);
  });

  test.serial(
    `${backend}: CSV import reads RFC 4180 (a quoted cell may span lines), takes expected hardware and BMC columns, and warns about unknown columns`,
    async (t) => {
      await siteWithNetwork(h, 'csv4180', 12);
      const [a, b] = [nextMac(), nextMac()];
      const csv = [
        'site,hostname,arch,bootMode,mac,tags,cpus,memoryMiB,disks,bmc_type,bmc_address,bmc_username,rack notes',
        `csv4180,rfc-01,x86_64,uefi,${a},"rack4`,
        `blue",16,65536,2,ipmi,198.18.12.201,admin,"row 3, ""left"" side`,
        `second line of the note"`,
        `csv4180,rfc-02,x86_64,bios,${b},,many,,,,,,`,
        '',
      ].join('\r\n');
      const imported = await h.request({ method: 'POST', url: '/v1/machines/import', body: csv, headers: { 'content-type': 'text/csv' } });
      t.is(imported.status, 200, JSON.stringify(imported.body));
      t.deepEqual(imported.body.warnings, [
        'ignored unknown column rack notes (known: site,hostname,arch,bootMode,mac,tags,bmc_type,bmc_address,bmc_username,bmc_password,cpus,memoryMiB,disks)',
      ]);
      t.like(imported.body, { created: 1, errors: 1 });
      t.deepEqual(
        imported.body.rows.map((r: any) => [r.row, r.hostname, r.outcome]),
        [
          [2, 'rfc-01', 'created'],
          [3, 'rfc-02', 'error'],
        ],
        'a newline inside quotes does not split the row',
      );
      t.deepEqual(imported.body.rows[1].errors, [{ field: 'cpus', message: 'must be a whole number (got "many")' }]);
      const machine = (await h.request({ url: '/v1/machines/rfc-01' })).body;
      t.deepEqual(machine.tags, ['rack4', 'blue']);
      t.deepEqual(machine.expected, { cpus: 16, memoryMiB: 65536, disks: 2 });
      t.like(machine.bmc, { type: 'ipmi', address: '198.18.12.201', username: 'admin' });
      const broken = await h.request({
        method: 'POST',
        url: '/v1/machines/import',
        body: `site,hostname,arch,bootMode,mac\ncsv4180,rfc-03,x86_64,bios,"${nextMac()}\n`,
        headers: { 'content-type': 'text/csv' },
      });
      t.is(broken.status, 400);
      t.like(broken.body, { code: 'SPROUT_ERR_VALIDATION' });
      t.regex(broken.body.detail, /^CSV could not be read/);
    },
  );

  test.serial(`${backend}: a long import commits in batches: a GET sent meanwhile sees its first rows before it ends; a re-run answers the same`, async (t) => {
    t.is((await h.request({ method: 'POST', url: '/v1/sites', body: { name: 'bulk-site' } })).status, 201);
    const total = 3000;
    const lines = ['site,hostname,arch,bootMode,mac,tags'];
    for (let i = 0; i < total; i++) lines.push(`bulk-site,bulk-${String(i).padStart(4, '0')},x86_64,bios,${nextMac()},rack${i % 7}`);
    lines[150] = lines[149]; // the same machine twice: the second is unchanged (same batch)
    lines[1150] = lines[120]; // and in a later batch
    lines[1400] = `bulk-site,bulk-dup-mac,x86_64,bios,${lines[1399].split(',')[4]},`; // a MAC an earlier row took
    lines[2000] = 'bulk-site,bulk-bad,mips,bios,52:54:ff:00:00:01,';
    const csv = lines.join('\n');
    let finished = false;
    const first = h
      .request({ method: 'POST', url: '/v1/machines/import', body: csv, headers: { 'content-type': 'text/csv' } })
      .then((r) => ((finished = true), r));
    // Poll (bounded) until a GET shows imported machines: with one transaction for the
    // whole import that happens only once it has ended.
    let seen: { items: unknown[] } | undefined;
    let finishedWhenSeen: boolean | undefined;
    for (let i = 0; i < 3000 && !finished; i++) {
      const page = await h.request({ url: '/v1/machines?site=bulk-site&limit=1' });
      t.is(page.status, 200);
      if (page.body.items.length > 0) {
        seen = page.body;
        finishedWhenSeen = finished;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const answer = await first;
    t.is(answer.status, 200, JSON.stringify(answer.body).slice(0, 500));
    t.truthy(seen, 'a GET saw imported machines');
    t.false(finishedWhenSeen, 'the GET was answered while the import was still running');

    t.like(answer.body, { created: total - 4, unchanged: 2, errors: 2 });
    const byRow = new Map(answer.body.rows.map((r: any) => [r.row, r]));
    t.is((byRow.get(151) as any).machineId, (byRow.get(150) as any).machineId);
    t.is((byRow.get(1151) as any).machineId, (byRow.get(121) as any).machineId);
    t.is((byRow.get(1401) as any).errors[0].field, 'interfaces/0/mac');
    t.regex((byRow.get(1401) as any).errors[0].message, /belongs to machine bulk-1398/);
    t.is((byRow.get(2001) as any).errors[0].field, 'arch');

    const again = await h.request({ method: 'POST', url: '/v1/machines/import', body: csv, headers: { 'content-type': 'text/csv' } });
    t.like(again.body, { created: 0, unchanged: total - 2, errors: 2 });
    for (const r of again.body.rows) {
      const before = byRow.get(r.row) as any;
      if (before.outcome === 'error') t.deepEqual(r.errors, before.errors);
      else t.is(r.machineId, before.machineId, `row ${r.row}`);
    }
    const site = await h.kernel.store.db('sites').where({ name: 'bulk-site' }).first();
    t.is((await h.kernel.store.db('machines').where({ site_id: site.id }).count('* as c').first())!.c, total - 4);
    t.is(
      (await h.kernel.store.db('interfaces').join('machines', 'machines.id', 'interfaces.machine_id').where({ site_id: site.id }).count('* as c').first())!.c,
      total - 4,
    );
  });

  test.serial(`${backend}: outbox rows go once their workflow has ended a day ago; a running workflow's stay`, async (t) => {
    await createMachine(h, 'm-site', 'prune-01');
    await createMachine(h, 'm-site', 'prune-02');
    const ended = (await h.request({ method: 'POST', url: '/v1/machines/prune-01/commission', body: { hwtest: false } })).body;
    const running = (await h.request({ method: 'POST', url: '/v1/machines/prune-02/commission', body: { hwtest: false } })).body;
    for (const wf of [ended, running]) await waitForWorkflow(h, wf.id, (w) => w.state === 'dispatched');
    // The site's agent takes both items (the HTTP transport leases them from the outbox): they are handed out now.
    const site = (await h.request({ url: '/v1/sites/m-site' })).body;
    const leased = await ((await h.kernel.capability(transportCapability)) as unknown as LongPoll).pollWork(site.id, 0);
    t.deepEqual(leased.map((l) => l.item.workflowId).sort(), [ended.id, running.id].sort());
    t.is((await h.request({ method: 'POST', url: `/v1/workflows/${ended.id}/cancel` })).status, 202);
    const db = h.kernel.store.db;
    const rowsOf = async (workflowId: string) => Number((await db('outbox').where({ workflow_id: workflowId }).count({ n: '*' }).first())?.n);
    t.true((await rowsOf(ended.id)) > 0 && (await rowsOf(running.id)) > 0);
    t.is(await h.kernel.services.dispatcher.pruneDispatched(), 0, 'nothing is a day old yet');
    // Two days pass, by the database's clock, for both workflows' rows; only one workflow has ended.
    await db('outbox')
      .whereIn('workflow_id', [ended.id, running.id])
      .update({ dispatched_at: db.raw(`now() - interval '2 days'`) });
    await db('workflows')
      .where({ id: ended.id })
      .update({ finished_at: db.raw(`now() - interval '2 days'`) });
    t.true((await h.kernel.services.dispatcher.pruneDispatched()) > 0);
    t.is(await rowsOf(ended.id), 0);
    t.true((await rowsOf(running.id)) > 0, 'a running workflow keeps its rows: its reports find their step through them');
    await h.request({ method: 'POST', url: `/v1/workflows/${running.id}/cancel` });
  });

  test.serial(
    `${backend}: cancelling a commission whose site step the agent is running ends it at once; the agent's late report changes nothing`,
    async (t) => {
      await createMachine(h, 'm-site', 'cancel-run-01');
      const started = (await h.request({ method: 'POST', url: '/v1/machines/cancel-run-01/commission', body: { hwtest: false } })).body;
      for (const step of ['check-bmc', 'power-on']) t.is(await finishSiteStep(h, started.id), step);
      await waitForWorkflow(h, started.id, (w) => w.steps.some((s: any) => s.name === 'commission' && s.state === 'dispatched'));
      const step = await h.kernel.store.db('workflow_steps').where({ workflow_id: started.id, name: 'commission' }).first();
      await h.kernel.services.engine.siteStepStarted(step.id, ['waiting for cancel-run-01 to boot the installer']);
      t.is((await h.request({ url: `/v1/workflows/${started.id}` })).body.steps.find((s: any) => s.name === 'commission').state, 'running');

      const cancelled = await h.request({ method: 'POST', url: `/v1/workflows/${started.id}/cancel` });
      t.is(cancelled.status, 202);
      t.is(cancelled.body.state, 'cancelled', 'no waiting for the step to end');
      const commission = cancelled.body.steps.find((s: any) => s.name === 'commission');
      t.is(commission.state, 'cancelled');
      t.regex(commission.error, /^cancelled while running by /);
      t.true(commission.logTail.includes('waiting for cancel-run-01 to boot the installer'), 'the step keeps what it said');
      const machine = (await h.request({ url: '/v1/machines/cancel-run-01' })).body;
      t.is(machine.status, 'new');
      t.regex(machine.statusReason.message, /commission cancelled by .* while step commission was running \(the machine may still be on/);
      t.is(await h.kernel.store.db('boot_intents').where({ workflow_id: started.id }).first(), undefined, 'the machine gets no installer any more');

      // The agent's report arrives after the cancel: the step, the workflow and the machine stay as they are.
      await h.kernel.services.engine.siteStepFinished(step.id, { ok: true, result: { cpus: 8 } });
      const after = (await h.request({ url: `/v1/workflows/${started.id}` })).body;
      t.is(after.state, 'cancelled');
      t.is(after.steps.find((s: any) => s.name === 'commission').state, 'cancelled');
      t.is((await h.request({ url: '/v1/machines/cancel-run-01' })).body.status, 'new');
    },
  );

  test.serial(`${backend}: lifecycle: an illegal action is a 409 naming the state and what is allowed`, async (t) => {
    await createMachine(h, 'm-site', 'life-01');
    const deploy = await h.request({ method: 'POST', url: '/v1/machines/life-01/deploy', body: { image: 'debian-12' } });
    t.is(deploy.status, 409);
    t.is(deploy.body.code, 'SPROUT_ERR_ILLEGAL_TRANSITION');
    t.regex(deploy.body.detail, /life-01 is new: deploy is not allowed; allowed: commission, mark-broken/);
    const noReason = await h.request({ method: 'POST', url: '/v1/machines/life-01/mark-broken', body: {} });
    t.is(noReason.status, 400);
    const broken = await h.request({ method: 'POST', url: '/v1/machines/life-01/mark-broken', body: { reason: 'PSU smells of smoke' } });
    t.is(broken.body.status, 'broken');
    t.regex(broken.body.statusReason.message, /PSU smells of smoke/);
    const fixed = await h.request({ method: 'POST', url: '/v1/machines/life-01/mark-fixed' });
    t.is(fixed.body.status, 'new', 'never commissioned, so back to new');
    const events = await h.request({ url: '/v1/machines/life-01/events' });
    t.deepEqual(
      events.body.items.map((e: any) => `${e.from}->${e.to}`),
      ['new->broken', 'broken->new'],
    );
    // Each event's reason as the lifecycle stored it: {code, message} or null (the schema's type, kept whole).
    t.deepEqual(
      events.body.items.map((e: any) => e.reason && { code: e.reason.code, message: e.reason.message }),
      [{ code: 'marked_broken', message: 'PSU smells of smoke (marked by token:bootstrap-admin)' }, null],
    );
  });

  test.serial(`${backend}: commissioning waits for an agent, cancel returns the machine, all of it audited with the actor`, async (t) => {
    const operator = await h.token('operator', `op-${backend}`);
    await createMachine(h, 'm-site', 'wait-01');
    const started = await h.request({ method: 'POST', url: '/v1/machines/wait-01/commission', token: operator, body: { hwtest: false } });
    t.is(started.status, 202);
    t.like(started.body.params, { hwtestDisabled: true, hwtestDisabledBy: 'request' });
    const audited = (await h.request({ url: `/v1/audit?action=machine.commission&target=${started.body.machine.id}` })).body.items[0];
    t.like(audited.details, { hwtestDisabled: true, hwtests: [] });
    const waiting = await waitForWorkflow(h, started.body.id, (wf) => wf.state === 'dispatched');
    // The BMC's credentials are checked at the site before anything is allocated.
    t.deepEqual(
      waiting.steps.map((s: any) => [s.name, s.state]),
      [
        ['check-bmc', 'dispatched'],
        ['allocate-ip', 'pending'],
        ['reserve-dhcp', 'pending'],
        ['write-dns', 'pending'],
        ['publish-boot-intent', 'pending'],
        ['power-on', 'pending'],
        ['commission', 'pending'],
      ],
    );
    t.is(waiting.steps[0].waitingFor, 'waiting for an agent at site m-site');
    const work = await h.kernel.store.db('outbox').where({ workflow_id: started.body.id }).first();
    // A machine without a BMC is powered by hand; the work item says so, with the BMC call timeout.
    t.like(typeof work.payload === 'string' ? JSON.parse(work.payload) : work.payload, {
      step: 'check-bmc',
      power: { hostname: 'wait-01', bmc: { type: 'manual' } },
      callTimeoutMs: 60_000,
    });
    t.is((await h.request({ url: '/v1/machines/wait-01' })).body.status, 'commissioning');

    const cancelled = await h.request({ method: 'POST', url: `/v1/workflows/${started.body.id}/cancel`, token: operator });
    t.is(cancelled.status, 202);
    t.is(cancelled.body.state, 'cancelled');
    const machine = (await h.request({ url: '/v1/machines/wait-01' })).body;
    t.is(machine.status, 'new');
    t.regex(machine.statusReason.message, new RegExp(`commission cancelled by token:op-${backend} before step check-bmc`));
    // the agent will not get the cancelled step: nothing is left to poll at the site
    const site = (await h.request({ url: '/v1/sites/m-site' })).body;
    await new Promise((r) => setTimeout(r, 200));
    t.deepEqual(await ((await h.kernel.capability(transportCapability)) as unknown as LongPoll).pollWork(site.id, 0), []);
    const again = await h.request({ method: 'POST', url: `/v1/workflows/${started.body.id}/cancel`, token: operator });
    t.is(again.status, 409);

    const trail = (await h.request({ url: `/v1/audit?actor=token:op-${backend}&limit=20` })).body.items.map((r: any) => r.action);
    t.true(trail.includes('machine.commission'));
    t.true(trail.includes('workflow.cancel'));
  });

  test.serial(`${backend}: a full cycle with the agent's reports: commission → ready → allocate → deploy → deployed → release → ready`, async (t) => {
    await createMachine(h, 'm-site', 'cycle-01', { tags: ['cycle'] });
    const commission = (await h.request({ method: 'POST', url: '/v1/machines/cycle-01/commission' })).body;
    t.true(commission.params.hwtests.includes('cpu-inventory'));
    t.is(await finishSiteStep(h, commission.id, { ok: true, result: { driver: 'manual', state: 'unknown' } }), 'check-bmc');
    t.is(await finishSiteStep(h, commission.id), 'power-on');
    t.is(await finishSiteStep(h, commission.id, { ok: true, result: { cpus: 8 } }), 'commission');
    await waitForWorkflow(h, commission.id, (wf) => wf.state === 'succeeded');
    t.is((await h.request({ url: '/v1/machines/cycle-01' })).body.status, 'ready');

    const allocated = await h.request({
      method: 'POST',
      url: '/v1/machines/allocate',
      body: { site: 'm-site', constraints: { tags: ['cycle'] }, owner: 'alice' },
    });
    t.is(allocated.status, 200, JSON.stringify(allocated.body));
    t.like(allocated.body, { hostname: 'cycle-01', status: 'allocated', owner: 'alice' });
    const none = await h.request({ method: 'POST', url: '/v1/machines/allocate', body: { site: 'm-site', constraints: { tags: ['cycle'] } } });
    t.is(none.status, 409);
    t.is(none.body.code, 'SPROUT_ERR_NO_MATCHING_MACHINE');

    // An image URL: the site has no agent to hold images by name (image-store.test.ts covers those).
    const deploy = (await h.request({ method: 'POST', url: '/v1/machines/cycle-01/deploy', body: { image: 'http://images.lab.example/debian-12.raw' } })).body;
    t.is(await finishSiteStep(h, deploy.id), 'power-on');
    const revisionBefore = await h.kernel.services.siteRevisions.current(allocated.body.site.id);
    t.is(await finishSiteStep(h, deploy.id), 'install');
    t.is(await finishSiteStep(h, deploy.id), 'boot-disk');
    t.is(await finishSiteStep(h, deploy.id), 'first-boot');
    // No sync-site step: the local-boot intent reaches the agent as a new revision of the site's desired state.
    const done = await waitForWorkflow(h, deploy.id, (wf) => wf.state === 'succeeded');
    t.false(done.steps.some((s: any) => s.name === 'sync-site'));
    t.true((await h.kernel.services.siteRevisions.current(allocated.body.site.id)) > revisionBefore, 'set-local-boot bumped the revision');
    t.is(stepState(done, 'set-local-boot'), 'succeeded');
    t.is((await h.kernel.store.db('boot_intents').where({ machine_id: allocated.body.id }).first()).intent, 'local');
    t.is((await h.request({ url: '/v1/machines/cycle-01' })).body.status, 'deployed');

    const release = (await h.request({ method: 'POST', url: '/v1/machines/cycle-01/release' })).body;
    t.is(await finishSiteStep(h, release.id, { ok: true, result: { driver: 'manual', state: 'unknown' } }), 'power-off');
    await waitForWorkflow(h, release.id, (wf) => wf.state === 'succeeded');
    const released = (await h.request({ url: '/v1/machines/cycle-01' })).body;
    t.like(released, { status: 'ready', owner: null });
    const events = (await h.request({ url: '/v1/machines/cycle-01/events' })).body.items.map((e: any) => e.to);
    t.deepEqual(events, ['commissioning', 'ready', 'allocated', 'deploying', 'deployed', 'releasing', 'ready']);
  });

  test.serial(`${backend}: a failed site step leaves a failure state with the step and error; a retry replaces the reason`, async (t) => {
    await createMachine(h, 'm-site', 'fail-01');
    const wf = (await h.request({ method: 'POST', url: '/v1/machines/fail-01/commission' })).body;
    t.is(await finishSiteStep(h, wf.id), 'check-bmc');
    await finishSiteStep(h, wf.id, { ok: false, error: 'no PXE answer: NIC link down', log: ['dhcp: DISCOVER sent', 'dhcp: no OFFER after 60 s'] });
    const failed = (await h.request({ url: '/v1/machines/fail-01' })).body;
    t.is(failed.status, 'failed_commissioning');
    t.like(failed.statusReason, { code: 'step_failed', step: 'power-on', workflow: wf.id });
    t.regex(failed.statusReason.message, /commission failed in step power-on: no PXE answer: NIC link down/);
    t.true(failed.statusReason.logTail.includes('dhcp: no OFFER after 60 s'));
    t.true(failed.allowedActions.includes('commission'));
    const retry = (await h.request({ method: 'POST', url: '/v1/machines/fail-01/commission' })).body;
    const machine = (await h.request({ url: '/v1/machines/fail-01' })).body;
    t.is(machine.status, 'commissioning');
    t.is(machine.statusReason, null);
    await h.request({ method: 'POST', url: `/v1/workflows/${retry.id}/cancel` });
  });

  test.serial(`${backend}: the watchdog fails an overdue machine naming the step it waited in`, async (t) => {
    await createMachine(h, 'm-site', 'dog-01');
    const wf = (await h.request({ method: 'POST', url: '/v1/machines/dog-01/commission' })).body;
    await waitForWorkflow(h, wf.id, (w) => w.state === 'dispatched');
    t.is(await h.kernel.services.watchdog.sweep(), 0, 'not overdue yet');
    clock.advance(61_000);
    t.true((await h.kernel.services.watchdog.sweep()) >= 1);
    const machine = (await h.request({ url: '/v1/machines/dog-01' })).body;
    t.is(machine.status, 'failed_commissioning');
    t.like(machine.statusReason, { code: 'watchdog_timeout', step: 'check-bmc', workflow: wf.id });
    t.regex(machine.statusReason.message, /commissioning timed out after \d+ s waiting in step check-bmc \(waiting for an agent at site m-site\)/);
    t.is((await h.kernel.services.workflows.get(wf.id)).state, 'timed_out');
    t.is(await h.kernel.services.watchdog.sweep(), 0, 'fires once');
  });

  test.serial(`${backend}: 20 concurrent allocations for 10 matching machines: 10 succeed, 10 get 409, none twice`, async (t) => {
    const db = h.kernel.store.db;
    const site = (await h.request({ url: '/v1/sites/m-site' })).body;
    for (let i = 0; i < 10; i++) {
      const m = await createMachine(h, 'm-site', `race-${i}`, { tags: ['race'] });
      await db('machines')
        .where({ id: m.id })
        .update({ status: 'ready', hardware: JSON.stringify({ cpus: 16, memoryMiB: 65536 }) });
    }
    void site;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h.request({ method: 'POST', url: '/v1/machines/allocate', body: { site: 'm-site', constraints: { tags: ['race'], minCpus: 8 }, owner: `user-${i}` } }),
      ),
    );
    const ok = answers.filter((a) => a.status === 200);
    t.is(ok.length, 10);
    t.is(answers.filter((a) => a.status === 409 && a.body.code === 'SPROUT_ERR_NO_MATCHING_MACHINE').length, 10);
    t.is(new Set(ok.map((a) => a.body.id)).size, 10);
    const rows = await db('machines').whereRaw('tags @> ?::jsonb', [JSON.stringify(['race'])]);
    t.true(rows.every((r: any) => r.status === 'allocated'));
    t.is(new Set(rows.map((r: any) => r.owner)).size, 10);
  });
}
