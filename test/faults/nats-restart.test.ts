/**
 * The NATS server (JetStream) is killed and restarted while a batch of site workflows
 * runs over transport-nats: every workflow completes, no report is lost (each step
 * finished) and none is applied twice (each step's log says it started once, and all
 * have the same lines). Its own PostgreSQL and NATS, each stopped by its PID.
 */
import test from 'ava';
import knexModule from 'knex';
import { ownNats, ownPostgres } from '@sprout/test-support/own-services.ts';
import { faultLab, settled } from './fault-lab.ts';
import { invariantViolations } from './invariants.ts';

const createKnex = (knexModule as any).knex ?? knexModule;

test('NATS killed and restarted mid-batch: every workflow completes, no report lost or applied twice', async (t) => {
  t.timeout(115_000);
  const pg = await ownPostgres();
  t.teardown(() => pg.destroy());
  const nats = await ownNats();
  t.teardown(() => nats.destroy());
  const lab = await faultLab(t, pg.url, { nats: nats.url, subnet: '198.18.63' });
  const db = createKnex({ client: 'pg', connection: pg.url, pool: { min: 0, max: 2 } });
  t.teardown(() => db.destroy());
  t.is((await lab.api('GET', '/v1/plugins')).items.find((p: any) => p.activeFor.includes('transport'))?.id, 'transport-nats');

  const syncs: string[] = [];
  for (let i = 0; i < 5; i++) syncs.push((await lab.api('POST', '/v1/sites/lab/sync')).id);
  await nats.stop('SIGKILL');
  // Requested while the broker is gone: the outbox keeps them.
  for (let i = 0; i < 5; i++) syncs.push((await lab.api('POST', '/v1/sites/lab/sync')).id);
  await new Promise((r) => setTimeout(r, 3_000));
  await nats.start();
  for (let i = 0; i < 5; i++) syncs.push((await lab.api('POST', '/v1/sites/lab/sync')).id);

  const done = await settled(lab, syncs, 80_000);
  t.deepEqual(
    done.map((wf) => wf.state),
    syncs.map(() => 'succeeded'),
    JSON.stringify(
      done.filter((wf) => wf.state !== 'succeeded').map((wf) => ({ id: wf.id, state: wf.state, steps: wf.steps?.map((s: any) => `${s.name}:${s.state}`) })),
    ),
  );
  const steps = await db('workflow_steps').whereIn('workflow_id', syncs).where({ kind: 'site' });
  t.deepEqual(
    steps.filter((s: any) => s.state !== 'succeeded').map((s: any) => s.id),
    [],
    'every site step finished: no report lost',
  );
  // A report applied twice would add lines: every step's log has the same shape, and says it started once, on its first delivery.
  const logs: string[][] = steps.map((s: any) => (typeof s.log_tail === 'string' ? JSON.parse(s.log_tail) : s.log_tail) as string[]);
  t.deepEqual(
    logs.filter((log) => log.filter((l) => l.startsWith('agent started sync-site')).length !== 1),
    [],
    'each step started once',
  );
  t.deepEqual([...new Set(logs.map((log) => log.length))], [logs[0]!.length], 'every step log has the same number of lines');
  t.deepEqual(await invariantViolations(pg.url), []);
});
