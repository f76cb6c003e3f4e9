/**
 * Racing allocations on a real PostgreSQL: 20 transactions on 20 connections all pick
 * before any of them commits, so a pick that locked nothing, or waited on a lock
 * instead of skipping it, shows up as a shared machine or a stalled race.
 */
import test from 'ava';
import knexModule, { type Knex } from 'knex';
import { allocationCapability, type AllocationConstraints, type AllocationPick } from '@sprout/kernel';
import { postgresUrl, startHarness } from '@sprout/test-support/harness.ts';
import { insertMachine, insertSite } from './machines-fixture.ts';

const createKnex = (knexModule as unknown as { knex: typeof knexModule }).knex ?? knexModule;
const racers = 20;

/** Resolves once `parties` callers arrived; rejects every caller after `ms` so a stalled race fails instead of hanging. */
function barrier(parties: number, ms: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`only ${arrived} of ${parties} picks finished within ${ms} ms: a pick is waiting on another's lock`)), ms);
  });
  expired.catch(() => {});
  void opened.then(() => clearTimeout(timer));
  return () => {
    if (++arrived === parties) open();
    return Promise.race([opened, expired]);
  };
}

test('postgres: 20 racing allocations get the 10 matching machines once each; the other 10 are told why', async (t) => {
  const h = await startHarness('postgres');
  t.teardown(() => h.stop());
  const kernelDb = h.kernel.store.db;
  const { rows } = await kernelDb.raw('select current_schema() as schema');
  const db: Knex = createKnex({ client: 'pg', connection: postgresUrl, searchPath: [rows[0].schema], pool: { min: 0, max: racers } });
  t.teardown(() => db.destroy());
  const allocation = await h.kernel.capability(allocationCapability);

  const site = await insertSite(kernelDb);
  const elsewhere = await insertSite(kernelDb);
  const matching: string[] = [];
  for (let i = 0; i < 10; i++) {
    matching.push(
      await insertMachine(kernelDb, site, { hostname: `gpu-${i}`, arch: 'arm64', tags: ['gpu', 'nvme'], hardware: { cpus: 32, memoryMiB: 131072 } }),
    );
  }
  await insertMachine(kernelDb, site, { hostname: 'gpu-x86', tags: ['gpu'], hardware: { cpus: 32, memoryMiB: 131072 } });
  await insertMachine(kernelDb, site, { hostname: 'gpu-small', arch: 'arm64', tags: ['gpu'], hardware: { cpus: 4, memoryMiB: 131072 } });
  await insertMachine(kernelDb, site, { hostname: 'arm-plain', arch: 'arm64', hardware: { cpus: 32, memoryMiB: 131072 } });
  await insertMachine(kernelDb, site, {
    hostname: 'gpu-deployed',
    arch: 'arm64',
    tags: ['gpu'],
    status: 'deployed',
    hardware: { cpus: 32, memoryMiB: 131072 },
  });
  await insertMachine(kernelDb, elsewhere, { hostname: 'gpu-0', arch: 'arm64', tags: ['gpu'], hardware: { cpus: 32, memoryMiB: 131072 } });
  const constraints: AllocationConstraints = { siteId: site, arch: 'arm64', tags: ['gpu'], minCpus: 16 };

  const allPicked = barrier(racers, 15_000);
  const picks: AllocationPick[] = await Promise.all(
    Array.from({ length: racers }, () =>
      db.transaction(async (trx) => {
        const pick = await allocation.pickMachine(trx, constraints);
        await allPicked();
        if (pick.machineId) await trx('machines').where({ id: pick.machineId }).update({ status: 'allocated' });
        return pick;
      }),
    ),
  );

  const picked = picks.flatMap((p) => (p.machineId ? [p.machineId] : []));
  t.deepEqual([...picked].sort(), [...matching].sort(), 'each matching machine picked exactly once');
  const refused = picks.flatMap((p) => (p.machineId === null ? [p.reason] : []));
  t.is(refused.length, 10);
  for (const reason of refused) t.regex(reason, /^no ready machine matches/);
  const allocated = await kernelDb('machines').where({ status: 'allocated' }).orderBy('hostname').pluck('id');
  t.deepEqual(allocated.sort(), [...matching].sort(), 'no machine outside the constraints was allocated');
});

test('postgres: a pick that finds every match locked by another allocation says so', async (t) => {
  const h = await startHarness('postgres');
  t.teardown(() => h.stop());
  const db = h.kernel.store.db;
  const allocation = await h.kernel.capability(allocationCapability);
  const site = await insertSite(db);
  const only = await insertMachine(db, site, { hostname: 'gpu-0', arch: 'arm64', tags: ['gpu'] });
  await insertMachine(db, site, { hostname: 'x86-0' });

  const holder = await db.transaction();
  t.teardown(() => (holder.isCompleted() ? undefined : holder.rollback()));
  t.deepEqual(await allocation.pickMachine(holder, { siteId: site, arch: 'arm64' }), { machineId: only });
  const second = await db.transaction((trx) => allocation.pickMachine(trx, { siteId: site, arch: 'arm64' }));
  t.deepEqual(second, {
    machineId: null,
    reason: `no ready machine matches right now: ${(second as { reason: string }).reason.match(/(\d+) ready/)![1]} ready, 2 in site ${site}, 1 of those with arch arm64; all 1 matching are being allocated by other requests`,
  });
  await holder.rollback();
  // released without allocating: the machine is free again
  t.deepEqual(await db.transaction((trx) => allocation.pickMachine(trx, { siteId: site, arch: 'arm64' })), { machineId: only });
});
