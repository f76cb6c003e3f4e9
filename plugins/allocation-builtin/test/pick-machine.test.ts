/**
 * What the builtin allocator picks on both stores: only ready machines matching every
 * constraint, the first by hostname, and when none, a reason counting the machines
 * that passed each constraint.
 */
import test from 'ava';
import { allocationCapability, type AllocationConstraints, type AllocationProvider } from '@sprout/kernel';
import { backends, startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { insertMachine, insertSite } from './machines-fixture.ts';

for (const backend of backends) {
  let booted: Promise<Harness> | undefined;
  const harness = () => (booted ??= startHarness(backend));
  test.after.always(async () => {
    if (booted) await (await booted).stop();
  });
  const pickIn = async (h: Harness, constraints: AllocationConstraints) => {
    const allocation: AllocationProvider = await h.kernel.capability(allocationCapability);
    return h.kernel.store.db.transaction((trx) => allocation.pickMachine(trx, constraints));
  };

  test(`${backend}: each constraint narrows the pick; the first match by hostname wins`, async (t) => {
    const h = await harness();
    const db = h.kernel.store.db;
    const site = await insertSite(db);
    const other = await insertSite(db);
    const m = {
      plain: await insertMachine(db, site, { hostname: 'a-plain' }),
      arm: await insertMachine(db, site, { hostname: 'b-arm', arch: 'arm64' }),
      gpu: await insertMachine(db, site, { hostname: 'c-gpu', tags: ['gpu', 'nvme'] }),
      big: await insertMachine(db, site, { hostname: 'd-big', hardware: { cpus: 64, memoryMiB: 262144 } }),
      bigGpuArm: await insertMachine(db, site, { hostname: 'e-big-gpu-arm', arch: 'arm64', tags: ['gpu'], hardware: { cpus: 64, memoryMiB: 65536 } }),
      elsewhere: await insertMachine(db, other, { hostname: 'a-elsewhere', arch: 'arm64', tags: ['gpu'], hardware: { cpus: 128, memoryMiB: 524288 } }),
    };
    t.deepEqual(await pickIn(h, { siteId: site }), { machineId: m.plain });
    t.deepEqual(await pickIn(h, { siteId: other }), { machineId: m.elsewhere });
    t.deepEqual(await pickIn(h, { siteId: site, arch: 'arm64' }), { machineId: m.arm });
    t.deepEqual(await pickIn(h, { siteId: site, tags: ['gpu'] }), { machineId: m.gpu });
    t.deepEqual(await pickIn(h, { siteId: site, tags: ['nvme', 'gpu'] }), { machineId: m.gpu });
    t.deepEqual(await pickIn(h, { siteId: site, minCpus: 32 }), { machineId: m.big });
    t.deepEqual(await pickIn(h, { siteId: site, minMemoryMiB: 100000 }), { machineId: m.big });
    t.deepEqual(await pickIn(h, { siteId: site, arch: 'arm64', tags: ['gpu'], minCpus: 64, minMemoryMiB: 65536 }), { machineId: m.bigGpuArm });
    t.deepEqual(await pickIn(h, { siteId: site, tags: [] }), { machineId: m.plain }, 'no tags asked for: any tags do');
  });

  test(`${backend}: machines that are not ready, or lack a hardware fact, are never picked`, async (t) => {
    const h = await harness();
    const db = h.kernel.store.db;
    const site = await insertSite(db);
    for (const status of ['new', 'commissioning', 'allocated', 'deployed', 'broken', 'failed_testing']) {
      await insertMachine(db, site, { hostname: `a-${status.replace('_', '-')}`, status, hardware: { cpus: 96, memoryMiB: 1 << 20 } });
    }
    await insertMachine(db, site, { hostname: 'b-unknown', hardware: {} });
    await insertMachine(db, site, { hostname: 'c-odd', hardware: { cpus: 'many', memoryMiB: '1 TiB' } });
    const fits = await insertMachine(db, site, { hostname: 'd-fits', hardware: { cpus: 16, memoryMiB: 32768 } });
    t.deepEqual(await pickIn(h, { siteId: site, minCpus: 16 }), { machineId: fits });
    t.deepEqual(await pickIn(h, { siteId: site, minMemoryMiB: 32768 }), { machineId: fits });
    const none = await pickIn(h, { siteId: site, minCpus: 17 });
    t.is(none.machineId, null);
    t.is(
      (none as { reason: string }).reason.replace(/\d+ ready/, 'N ready'),
      `no ready machine matches: N ready, 3 in site ${site}, 0 of those with at least 17 CPUs`,
    );
  });

  test(`${backend}: with no match the reason counts the machines passing each constraint in turn`, async (t) => {
    const h = await harness();
    const db = h.kernel.store.db;
    const site = await insertSite(db);
    for (let i = 0; i < 5; i++) await insertMachine(db, site, { hostname: `x86-${i}` });
    for (let i = 0; i < 3; i++) await insertMachine(db, site, { hostname: `arm-${i}`, arch: 'arm64', tags: i === 0 ? ['nvme'] : [] });
    await insertMachine(db, site, { hostname: 'arm-busy', arch: 'arm64', tags: ['gpu'], status: 'deployed' });

    const pick = await pickIn(h, { siteId: site, arch: 'arm64', tags: ['gpu'], minCpus: 4 });
    t.is(pick.machineId, null);
    t.regex(
      (pick as { reason: string }).reason,
      new RegExp(`^no ready machine matches: \\d+ ready, 8 in site ${site}, 3 of those with arch arm64, 0 of those with tags \\[gpu\\]$`),
    );
    const byMemory = await pickIn(h, { siteId: site, arch: 'arm64', minMemoryMiB: 16385 });
    t.regex((byMemory as { reason: string }).reason, /3 of those with arch arm64, 0 of those with at least 16385 MiB memory$/);
  });

  test(`${backend}: a bad minimum is SPROUT_ERR_VALIDATION`, async (t) => {
    const h = await harness();
    await t.throwsAsync(pickIn(h, { minCpus: -1 }), { code: 'SPROUT_ERR_VALIDATION' });
    await t.throwsAsync(pickIn(h, { minMemoryMiB: Number.NaN }), { code: 'SPROUT_ERR_VALIDATION' });
  });

  test(`${backend}: 20 allocations queued on the store get the 10 matching machines once each`, async (t) => {
    const h = await harness();
    const db = h.kernel.store.db;
    const allocation = await h.kernel.capability(allocationCapability);
    const site = await insertSite(db);
    const constraints: AllocationConstraints = { siteId: site, arch: 'arm64', tags: ['gpu'] };
    const matching = new Set<string>();
    for (let i = 0; i < 10; i++) matching.add(await insertMachine(db, site, { hostname: `gpu-${String(i).padStart(2, '0')}`, arch: 'arm64', tags: ['gpu'] }));
    await insertMachine(db, site, { hostname: 'gpu-x86', tags: ['gpu'] });
    await insertMachine(db, site, { hostname: 'arm-plain', arch: 'arm64' });

    const picks = await Promise.all(
      Array.from({ length: 20 }, () =>
        db.transaction(async (trx) => {
          const pick = await allocation.pickMachine(trx, constraints);
          if (pick.machineId) await trx('machines').where({ id: pick.machineId }).update({ status: 'allocated' });
          return pick;
        }),
      ),
    );
    const picked = picks.flatMap((p) => (p.machineId ? [p.machineId] : []));
    t.deepEqual([...picked].sort(), [...matching].sort(), 'each matching machine picked exactly once');
    // serialised (PGlite) every loser sees all 10 allocated; on a pool a loser may still see some only locked
    const lost = backend === 'pglite' ? /^no ready machine matches: .*0 of those with tags \[gpu\]$/ : /^no ready machine matches/;
    for (const p of picks.filter((p) => p.machineId === null)) t.regex((p as { reason: string }).reason, lost);
    const ready = await db('machines').where({ site_id: site, status: 'ready' }).orderBy('hostname').pluck('hostname');
    t.deepEqual(ready, ['arm-plain', 'gpu-x86']);
  });
}
