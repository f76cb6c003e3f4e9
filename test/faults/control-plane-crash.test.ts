/**
 * The control plane is SIGKILLed with workflows in flight and started again on the same
 * database: the outbox delivers what was pending, every site workflow completes, the
 * watchdogs still fire for machines that never boot (with the reason), nothing stays in
 * progress, and the database invariants hold. Its own PostgreSQL; processes killed by PID.
 */
import test from 'ava';
import knexModule from 'knex';
import { ownPostgres } from '@sprout/test-support/own-services.ts';
import { faultLab, settled } from './fault-lab.ts';
import { invariantViolations } from './invariants.ts';

const createKnex = (knexModule as any).knex ?? knexModule;

test('SIGKILL of the control plane mid-batch: outbox delivers, workflows finish once, watchdogs fire, nothing stuck', async (t) => {
  t.timeout(115_000);
  const pg = await ownPostgres();
  t.teardown(() => pg.destroy());
  const lab = await faultLab(t, pg.url);

  const machines = ['crash-1', 'crash-2', 'crash-3'];
  for (const [i, hostname] of machines.entries())
    await lab.api('POST', '/v1/machines', { site: 'lab', hostname, arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac: `52:54:00:61:00:0${i + 1}` }] });
  // Machines that will never boot: only their watchdogs can end these.
  const commissions = await Promise.all(machines.map((m) => lab.api('POST', `/v1/machines/${m}/commission`, { hwtest: false })));
  for (let i = 0; i < 4; i++) await lab.api('POST', '/v1/sites/lab/sync');
  // More syncs on their way in while the process dies: some land, some are cut off with it.
  const inFlight = Promise.allSettled(Array.from({ length: 8 }, () => lab.api('POST', '/v1/sites/lab/sync')));
  await new Promise((r) => setTimeout(r, 40));
  const db = createKnex({ client: 'pg', connection: pg.url, pool: { min: 0, max: 2 } });
  t.teardown(() => db.destroy());
  await lab.killAndRestart(0);
  const answered = (await inFlight).filter((r) => r.status === 'fulfilled').length;
  const syncs: string[] = (await db('workflows').where({ kind: 'sync-site' }).select('id')).map((r: { id: string }) => r.id);
  t.log(`killed with ${syncs.length + commissions.length} workflows in flight (${answered} of 8 concurrent requests answered before the kill)`);

  const restartedAt = Date.now();
  const synced = await settled(lab, syncs);
  t.log(`site workflows finished ${Date.now() - restartedAt} ms after the restart`);
  t.deepEqual(
    synced.map((wf) => wf.state),
    syncs.map(() => 'succeeded'),
    JSON.stringify(
      synced.filter((wf) => wf.state !== 'succeeded'),
      null,
      1,
    ).slice(0, 2000),
  );
  const failed = await settled(
    lab,
    commissions.map((wf) => wf.id),
    60_000,
  );
  t.deepEqual(
    failed.map((wf) => wf.state),
    machines.map(() => 'timed_out'),
  );
  for (const hostname of machines) {
    const machine = await lab.api('GET', `/v1/machines/${hostname}`);
    t.is(machine.status, 'failed_commissioning', hostname);
    t.is(machine.statusReason?.code, 'watchdog_timeout');
    t.truthy(machine.statusReason?.message);
  }
  // Each machine failed once, by one watchdog.
  const transitions = await db('audit_records').where({ action: 'machine.transition' }).whereRaw(`details->'status'->>'new' = 'failed_commissioning'`);
  t.is(transitions.length, machines.length, JSON.stringify(transitions.map((r: any) => r.target_id)));
  t.is(Number((await db('outbox').whereNull('dispatched_at').count('* as n').first()).n), 0, 'the outbox is empty');
  t.is(
    Number((await db('workflows').whereNotIn('state', ['succeeded', 'failed', 'cancelled', 'timed_out']).count('* as n').first()).n),
    0,
    'no workflow is left in progress',
  );
  t.is(Number((await db('workflow_steps').whereIn('state', ['running', 'dispatched']).count('* as n').first()).n), 0, 'no step is left in progress');
  t.deepEqual(await invariantViolations(pg.url), []);
});
