/**
 * Where the builtin keeps reservations: inside the caller's transaction when given one,
 * a refused reservation leaving that transaction usable, racing reservations of one
 * address resolved by the database, and nothing outliving its site or network.
 */
import { randomUUID } from 'node:crypto';
import test from 'ava';
import type { Knex } from 'knex';
import { dhcpCapability } from '@sprout/kernel';
import { backends, startHarness } from '@sprout/test-support/harness.ts';
import { insertSite, sharedHarness } from './kernel-fixture.ts';

/** Whether some backend is waiting on `pid`'s locks within a bounded time. */
async function blockedBy(db: Knex, pid: number): Promise<boolean> {
  for (let attempt = 0; attempt < 250; attempt++) {
    const { rows } = await db.raw('select count(*) as waiting from pg_stat_activity where ? = any(pg_blocking_pids(pid))', [pid]);
    if (rows[0].waiting > 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

for (const backend of backends) {
  const harness = sharedHarness(test, backend);

  test(`${backend}: reservations made or removed in a rolled-back transaction are not kept`, async (t) => {
    const h = await harness();
    const db = h.kernel.store.db;
    const dhcp = await h.kernel.capability(dhcpCapability);
    const { siteId, networkId } = await insertSite(db);
    const reservation = { siteId, networkId, mac: 'aa:bb:cc:00:00:01', address: '198.18.0.10', netboot: true };
    const rollback = new Error('rollback');

    await t.throwsAsync(
      db.transaction(async (trx) => {
        await dhcp.reserve(reservation, trx);
        t.deepEqual(await dhcp.listReservations(siteId, trx), [reservation], 'the transaction sees its own reservation');
        throw rollback;
      }),
      { is: rollback },
    );
    t.deepEqual(await dhcp.listReservations(siteId), []);

    await dhcp.reserve(reservation);
    await t.throwsAsync(
      db.transaction(async (trx) => {
        await dhcp.unreserve(siteId, reservation.mac, trx);
        throw rollback;
      }),
      { is: rollback },
    );
    t.deepEqual(await dhcp.listReservations(siteId), [reservation]);
  });

  test(`${backend}: a conflicting reservation leaves the caller's transaction usable`, async (t) => {
    const h = await harness();
    const db = h.kernel.store.db;
    const dhcp = await h.kernel.capability(dhcpCapability);
    const { siteId, networkId } = await insertSite(db);
    const holder = { siteId, networkId, mac: 'aa:bb:cc:00:00:01', address: '198.18.0.10', netboot: true };
    await dhcp.reserve(holder);
    const retried = { siteId, networkId, mac: 'aa:bb:cc:00:00:02', address: '198.18.0.11', netboot: true };
    await db.transaction(async (trx) => {
      const err = await t.throwsAsync(dhcp.reserve({ ...retried, address: holder.address }, trx), { code: 'SPROUT_ERR_CONFLICT' });
      t.regex(err!.message, /198\.18\.0\.10 is already reserved by aa:bb:cc:00:00:01/);
      await dhcp.reserve(retried, trx);
    });
    t.deepEqual(await dhcp.listReservations(siteId), [holder, retried]);
  });

  test(`${backend}: deleting a network or a site removes its reservations`, async (t) => {
    const h = await harness();
    const db = h.kernel.store.db;
    const dhcp = await h.kernel.capability(dhcpCapability);
    const { siteId, networkId } = await insertSite(db);
    await dhcp.reserve({ siteId, networkId, mac: 'aa:bb:cc:00:00:01', address: '198.18.0.10', netboot: true });
    // Through the kernel's deletes: the plugin drops its rows in their networkRemoving and siteRemoving hooks (no foreign keys).
    const { networks, sites } = h.kernel.services;
    await db.transaction((trx) => networks.remove({ network: networkId }, trx));
    t.deepEqual(await dhcp.listReservations(siteId), []);
    const other = await insertSite(db);
    await dhcp.reserve({ ...other, mac: 'aa:bb:cc:00:00:01', address: '198.18.0.10', netboot: true });
    // A reservation naming the site in a network id the kernel does not have goes with the site.
    await dhcp.reserve({ siteId: other.siteId, networkId: randomUUID(), mac: 'aa:bb:cc:00:00:02', address: '198.18.0.11', netboot: true });
    await db.transaction((trx) => networks.remove({ network: other.networkId }, trx));
    t.is(Number((await db('dhcp_reservations').where({ site_id: other.siteId }).count('* as count').first())!.count), 1);
    await db.transaction(async (trx) => sites.remove(trx, await trx('sites').where({ id: other.siteId }).first()));
    t.is(Number((await db('dhcp_reservations').where({ site_id: other.siteId }).count('* as count').first())!.count), 0);
  });
}

test('postgres: two transactions reserving one address for different MACs: the second gets a conflict', async (t) => {
  const h = await startHarness('postgres');
  t.teardown(() => h.stop());
  const db = h.kernel.store.db;
  const dhcp = await h.kernel.capability(dhcpCapability);
  const { siteId, networkId } = await insertSite(db);
  const first = { siteId, networkId, mac: 'aa:bb:cc:00:00:01', address: '198.18.0.10', netboot: true };

  const firstTrx = await db.transaction();
  const { rows } = await firstTrx.raw('select pg_backend_pid() as pid');
  await dhcp.reserve(first, firstTrx);
  // the second sees no committed holder, so it reaches the unique index and waits on the first
  const secondSettled = db
    .transaction((trx) => dhcp.reserve({ ...first, mac: 'aa:bb:cc:00:00:02' }, trx))
    .then(
      () => 'reserved',
      (err) => (err as { code?: string }).code,
    );
  t.true(await blockedBy(db, rows[0].pid), 'the second reservation never waited on the first');
  await firstTrx.commit();
  t.is(await secondSettled, 'SPROUT_ERR_CONFLICT');
  t.deepEqual(await dhcp.listReservations(siteId), [first]);
});
