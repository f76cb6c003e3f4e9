/**
 * The audit trail stays bounded under floods while every denial stays in it: identical
 * refusals within the repeat window are one record with a count (whose counts sum to the
 * refusals), requests without credentials are held back like bad tokens, an agent's
 * thousands of refused MACs are a few records with a sample of the MACs, and old records
 * can be pruned — by hand (route and CLI) or by the retention setting — which is audited.
 */
import test from 'ava';
import knexModule from 'knex';
import { defaultAuthFailureLimits } from '../../kernel/src/auth/auth-failure-limiter.ts';
import { backends, freshDatabase, startHarness, TestClock, type Harness } from '@sprout/test-support/harness.ts';
import { siteWithNetwork } from '@sprout/test-support/control-plane.ts';
import { startServer, sprout, type ServerProcess } from '@sprout/test-support/processes.ts';

const createKnex = (knexModule as any).knex ?? knexModule;
const detailsOf = (row: any) => (typeof row.details === 'string' ? JSON.parse(row.details) : row.details);
const countOf = (row: any) => Number(detailsOf(row).count ?? 1);

async function inject(h: Harness, address: string, url: string, headers: Record<string, string> = {}, method = 'GET', payload?: object) {
  const res = await h.kernel.app!.inject({ method: method as 'GET', url, remoteAddress: address, headers, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, headers: res.headers, body: JSON.parse(res.body) };
}

for (const backend of backends) {
  // One kernel per backend for these tests (PGlite boots are slow on a busy machine); the retention test boots its own.
  const clock = new TestClock();
  let h: Harness;
  test.before(async () => {
    h = await startHarness(backend, { clock });
  });
  test.after.always(() => h?.stop());

  test.serial(
    `${backend}: 200 unauthenticated requests from one address: 401 up to the limit, then 429; a bounded number of audit rows whose counts sum to 200`,
    async (t) => {
      const limit = defaultAuthFailureLimits.maxFailures;
      const statuses: number[] = [];
      for (let i = 0; i < 200; i++) {
        // A forged X-Forwarded-For changes nothing: no proxy is trusted.
        const res = await inject(h, '198.18.7.7', i % 2 ? '/v1/machines' : `/v1/sites/s-${i}`, { 'x-forwarded-for': `203.0.113.${i % 250}` });
        statuses.push(res.status);
        if (res.status === 429) {
          t.is(res.body.code, 'SPROUT_ERR_RATE_LIMITED');
          t.true(Number(res.headers['retry-after']) >= 1);
        }
      }
      t.deepEqual(statuses.slice(0, limit), Array(limit).fill(401));
      t.deepEqual(statuses.slice(limit), Array(200 - limit).fill(429));
      // Another address is not held back.
      t.is((await inject(h, '198.18.7.8', '/v1/whoami', { authorization: `Bearer ${h.adminToken}` })).status, 200);

      const rows = await h.kernel.store.db('audit_records').where({ source_address: '198.18.7.7', outcome: 'denied' });
      t.is(rows.length, 4, `${rows.length} rows for 200 denials: 401 and 429 on each of the two routes`);
      t.is(
        rows.reduce((sum: number, r: any) => sum + countOf(r), 0),
        200,
        'every denial is counted',
      );
      t.is(
        rows.filter((r: any) => detailsOf(r).status === 429).reduce((sum: number, r: any) => sum + countOf(r), 0),
        200 - limit,
      );
      // One record per route, status and reason: the one for /v1/sites/{id} samples the ids asked for.
      const first = detailsOf(rows.find((r: any) => detailsOf(r).status === 401 && r.action === 'GET /v1/sites/:id'));
      t.truthy(first.firstSeen);
      t.truthy(first.lastSeen);
      t.true(first.paths.length > 1 && first.paths.length <= 50, 'a bounded sample of what was asked for');
    },
  );

  test.serial(
    `${backend}: the same refusal repeated is one audit row with a count, also when the repeats arrive at once; after the window a new row`,
    async (t) => {
      const viewer = await h.token('viewer', 'repeat-viewer');
      for (let i = 0; i < 5; i++)
        t.is((await inject(h, '198.18.7.20', '/v1/sites', { authorization: `Bearer ${viewer}` }, 'POST', { name: `nope-${i}` })).status, 403);
      // 40 at once: written together, none lost.
      const burst = await Promise.all(
        Array.from({ length: 40 }, () => inject(h, '198.18.7.20', '/v1/sites', { authorization: `Bearer ${viewer}` }, 'POST', { name: 'nope' })),
      );
      t.true(burst.every((r) => r.status === 403));
      let rows = await h.kernel.store.db('audit_records').where({ source_address: '198.18.7.20', action: 'site.create' });
      t.is(rows.length, 1);
      t.like(rows[0], { outcome: 'denied', actor: 'token:repeat-viewer' });
      t.is(countOf(rows[0]), 45);
      t.regex(detailsOf(rows[0]).reason, /has role viewer/);

      // The same refusal of another actor, or another action, is its own record.
      const other = await h.token('viewer', 'repeat-viewer-2');
      t.is((await inject(h, '198.18.7.20', '/v1/sites', { authorization: `Bearer ${other}` }, 'POST', { name: 'x' })).status, 403);
      t.is((await h.kernel.store.db('audit_records').where({ source_address: '198.18.7.20', outcome: 'denied' })).length, 2);

      clock.advance(61_000);
      t.is((await inject(h, '198.18.7.20', '/v1/sites', { authorization: `Bearer ${viewer}` }, 'POST', { name: 'later' })).status, 403);
      rows = await h.kernel.store
        .db('audit_records')
        .where({ source_address: '198.18.7.20', action: 'site.create', actor: 'token:repeat-viewer' })
        .orderBy('id');
      t.deepEqual(rows.map(countOf), [45, 1], 'a new record once the window has passed');
    },
  );

  test.serial(`${backend}: 3 000 boot refusals of unknown MACs from an agent are a bounded number of rows, counted, with a sample of the MACs`, async (t) => {
    const { site, joinToken } = await siteWithNetwork(h, `boot-flood-${backend}`, 50);
    const agent = await h.request({
      method: 'POST',
      url: '/v1/agents/register',
      token: null,
      body: { joinToken, hostname: 'agent', version: '1', capabilities: [] },
    });
    t.is(agent.status, 201);
    const macs = Array.from(
      { length: 3000 },
      (_, i) => `52:54:00:77:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
    );
    let sequence = 0;
    const report = (mac: string) => ({
      agentId: agent.body.agentId,
      siteId: site.id,
      sequence: ++sequence,
      kind: 'boot.refused',
      at: new Date().toISOString(),
      payload: { mac, reason: `no boot intent for ${mac}: this machine is unknown here or not being provisioned` },
    });
    for (let i = 0; i < macs.length; i += 500) await h.kernel.services.reports.applyMany(macs.slice(i, i + 500).map(report));
    // One more through the one-by-one path, and one refusal without a MAC.
    await h.kernel.services.reports.apply(report(macs[0]!));
    await h.kernel.services.reports.apply({ ...report(''), payload: { reason: 'no MAC given' } });

    const rows = await h.kernel.store.db('audit_records').where({ action: 'agent.boot.refused', target_id: site.id });
    t.true(rows.length <= 3, `${rows.length} rows`);
    t.is(
      rows.reduce((sum: number, r: any) => sum + countOf(r), 0),
      3002,
    );
    const withMacs = rows.filter((r: any) => Array.isArray(detailsOf(r).macs));
    const sample: string[] = withMacs.flatMap((r: any) => detailsOf(r).macs);
    t.true(sample.length >= 1 && sample.length <= 50 * withMacs.length);
    t.true(sample.every((m) => macs.includes(m)));
    // The sampled MACs can be found with the audit API's own filters.
    const listed = await h.request({ url: `/v1/audit?action=agent.boot.refused&target=${site.id}` });
    t.is(listed.status, 200);
    t.true(listed.body.items.some((r: any) => (r.details.macs ?? []).includes(macs[0])));
  });

  test.serial(`${backend}: POST /v1/audit/prune removes records older than the cutoff and records how many`, async (t) => {
    const db = h.kernel.store.db;
    for (let i = 0; i < 7; i++) await h.kernel.services.auditLog.record({ actor: 'test', action: 'test.old', outcome: 'success', details: { i } });
    await db('audit_records')
      .where({ action: 'test.old' })
      .update({ at: new Date(Date.now() - 90 * 86_400_000) });
    await h.kernel.services.auditLog.record({ actor: 'test', action: 'test.recent', outcome: 'success' });
    const cutoff = new Date(Date.now() - 30 * 86_400_000).toISOString();

    const viewer = await h.token('viewer');
    t.is((await h.request({ method: 'POST', url: '/v1/audit/prune', token: viewer, body: { before: cutoff } })).status, 403);
    const future = await h.request({ method: 'POST', url: '/v1/audit/prune', body: { before: new Date(Date.now() + 86_400_000).toISOString() } });
    t.is(future.status, 400);
    t.is(future.body.code, 'SPROUT_ERR_VALIDATION');
    t.is(future.body.errors[0].field, 'body/before');
    const bad = await h.request({ method: 'POST', url: '/v1/audit/prune', body: { before: 'last tuesday' } });
    t.is(bad.status, 400);

    const pruned = await h.request({ method: 'POST', url: '/v1/audit/prune', body: { before: cutoff }, headers: { 'x-request-id': 'prune-1' } });
    t.is(pruned.status, 200);
    t.deepEqual(pruned.body, { removed: 7, before: cutoff });
    t.is((await db('audit_records').where({ action: 'test.old' })).length, 0);
    t.is((await db('audit_records').where({ action: 'test.recent' })).length, 1);
    const record = await db('audit_records').where({ request_id: 'prune-1' }).first();
    t.like(record, { action: 'audit.prune', outcome: 'success', actor: 'token:bootstrap-admin' });
    t.like(detailsOf(record), { removed: 7, before: cutoff });
  });

  test.serial(`${backend}: audit.retentionDays prunes what is older, recorded as system; unset keeps everything`, async (t) => {
    t.is(await h.kernel.services.auditRetention.pruneExpired(), null, 'unset: nothing is pruned');
    const r = await startHarness(backend, { yaml: 'audit:\n  retentionDays: 30\n' });
    t.teardown(() => r.stop());
    const db = r.kernel.store.db;
    for (let i = 0; i < 3; i++) await r.kernel.services.auditLog.record({ actor: 'test', action: 'test.old', outcome: 'success' });
    await db('audit_records')
      .where({ action: 'test.old' })
      .update({ at: new Date(Date.now() - 31 * 86_400_000) });
    const result = await r.kernel.services.auditRetention.pruneExpired();
    t.is(result?.removed, 3);
    t.is((await db('audit_records').where({ action: 'test.old' })).length, 0);
    const record = await db('audit_records').where({ action: 'audit.prune' }).first();
    t.like(record, { actor: 'system', outcome: 'success' });
    t.like(detailsOf(record), { removed: 3, retentionDays: 30 });
    t.is((await r.kernel.services.auditRetention.pruneExpired())?.removed, 0);
    t.is((await db('audit_records').where({ action: 'audit.prune' })).length, 1, 'a prune that removed nothing leaves no record');
  });
}

test('sprout audit prune --before, against a real server on PostgreSQL', async (t) => {
  const url = await freshDatabase(t, 'sprout_prune');
  let server: ServerProcess | undefined;
  t.teardown(() => server?.stop());
  server = await startServer({ SPROUT_DATABASE_URL: url });
  const run = (...args: string[]) => sprout(args, { cwd: server!.dir, env: server!.env });
  t.is((await run('site', 'create', 'prune-site')).code, 0);
  // Age everything written so far (the admin token's creation, the site's) by a year.
  const direct = createKnex({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  let aged: number;
  try {
    aged = await direct('audit_records').update({ at: direct.raw(`at - interval '365 days'`) });
  } finally {
    await direct.destroy();
  }
  t.true(aged >= 2);

  const bad = await run('audit', 'prune', '--before', 'yesterday-ish');
  t.is(bad.code, 1);
  t.regex(bad.stderr, /--before/);
  const pruned = await run('audit', 'prune', '--before', new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10), '--json');
  t.is(pruned.code, 0, pruned.stderr);
  t.is(JSON.parse(pruned.stdout).removed, aged);
  const human = await run('audit', 'prune', '--before', '2000-01-01');
  t.regex(human.stdout, /removed 0 audit records written before 2000-01-01T00:00:00.000Z/);
  const list = JSON.parse((await run('audit', 'list', '--action', 'audit.prune', '--json')).stdout).items;
  t.is(list.length, 2);
  t.deepEqual(list.map((r: any) => r.details.removed).sort(), [0, aged].sort());
});
