/**
 * Two control-plane processes on one PostgreSQL: work requested through either is
 * dispatched once and run once by the site's agent, and each overdue machine is failed
 * by exactly one watchdog. Its own PostgreSQL; processes stopped by PID.
 */
import test from 'ava';
import knexModule from 'knex';
import { ownPostgres } from '@sprout/test-support/own-services.ts';
import { faultLab, settled } from './fault-lab.ts';
import { invariantViolations } from './invariants.ts';

const createKnex = (knexModule as any).knex ?? knexModule;

test('two control planes, one database: every workflow dispatched and run once, every watchdog fires once', async (t) => {
  t.timeout(115_000);
  const pg = await ownPostgres();
  t.teardown(() => pg.destroy());
  const lab = await faultLab(t, pg.url, { servers: 2, subnet: '198.18.62' });
  const db = createKnex({ client: 'pg', connection: pg.url, pool: { min: 0, max: 2 } });
  t.teardown(() => db.destroy());

  const machines = ['twin-1', 'twin-2', 'twin-3', 'twin-4'];
  const commissions: string[] = [];
  for (const [i, hostname] of machines.entries()) {
    await lab.api(
      'POST',
      '/v1/machines',
      { site: 'lab', hostname, arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac: `52:54:00:62:00:0${i + 1}` }] },
      i % 2,
    );
    commissions.push((await lab.api('POST', `/v1/machines/${hostname}/commission`, { hwtest: false }, i % 2)).id);
  }
  const syncs = await Promise.all(Array.from({ length: 12 }, (_, i) => lab.api('POST', '/v1/sites/lab/sync', undefined, i % 2).then((wf) => wf.id as string)));
  const synced = await settled(lab, syncs);
  t.deepEqual(
    synced.map((wf) => wf.state),
    syncs.map(() => 'succeeded'),
  );
  const failed = await settled(lab, commissions, 60_000);
  t.deepEqual(
    failed.map((wf) => wf.state),
    machines.map(() => 'timed_out'),
  );

  // Dispatched once: one outbox row per site step, delivered once; each step ran in one attempt.
  const steps = await db('workflow_steps').whereIn('workflow_id', syncs).where({ kind: 'site' });
  t.true(steps.length >= syncs.length);
  t.deepEqual(
    steps.filter((s: any) => s.attempt !== 1).map((s: any) => `${s.name}: attempt ${s.attempt}`),
    [],
  );
  const outbox = await db('outbox').whereIn('workflow_id', syncs);
  t.is(outbox.length, steps.length, 'one outbox row per site step');
  // The agent leases the rows over HTTP: each leased once.
  t.deepEqual(
    outbox.filter((o: any) => o.dispatched_at === null || o.deliveries !== 1).map((o: any) => o.id),
    [],
    'each delivered, once',
  );
  // Each machine failed once, by one watchdog, with its reason.
  const transitions = await db('audit_records').where({ action: 'machine.transition' }).whereRaw(`details->'status'->>'new' = 'failed_commissioning'`);
  t.deepEqual(
    transitions.map((r: any) => r.target_id).sort(),
    (await db('machines').select('id')).map((m: any) => m.id).sort(),
    'one failure transition per machine',
  );
  const events = await db('machine_events').where({ to_status: 'failed_commissioning' });
  t.is(events.length, machines.length, 'one failure event per machine');
  t.deepEqual(await invariantViolations(pg.url), []);
});
