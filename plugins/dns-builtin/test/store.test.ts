/**
 * Where the builtin keeps its records: inside the caller's transaction when given one
 * (so records commit or roll back with the workflow step), and never after their site.
 */
import test from 'ava';
import { dnsCapability, recordsForAddress } from '@sprout/kernel';
import { backends } from '@sprout/test-support/harness.ts';
import { insertSite, sharedHarness } from './kernel-fixture.ts';

for (const backend of backends) {
  const harness = sharedHarness(test, backend);

  test(`${backend}: records written in a rolled-back transaction are not kept; removals neither`, async (t) => {
    const h = await harness();
    const db = h.kernel.store.db;
    const dns = await h.kernel.capability(dnsCapability);
    const siteId = await insertSite(db);
    const records = recordsForAddress({ siteId, hostname: 'node1', domain: 'lab.example', address: '198.18.0.2' });
    const rollback = new Error('rollback');

    await t.throwsAsync(
      db.transaction(async (trx) => {
        await dns.upsertRecords(records, trx);
        t.is((await dns.listRecords(siteId, undefined, trx)).length, 2, 'the transaction sees its own records');
        throw rollback;
      }),
      { is: rollback },
    );
    t.deepEqual(await dns.listRecords(siteId), []);

    await dns.upsertRecords(records);
    await t.throwsAsync(
      db.transaction(async (trx) => {
        await dns.removeRecords(records, trx);
        throw rollback;
      }),
      { is: rollback },
    );
    t.is((await dns.listRecords(siteId)).length, 2);
  });

  test(`${backend}: a deleted site takes its records with it`, async (t) => {
    const h = await harness();
    const db = h.kernel.store.db;
    const dns = await h.kernel.capability(dnsCapability);
    const siteId = await insertSite(db);
    await dns.upsertRecords(recordsForAddress({ siteId, hostname: 'node1', domain: 'lab.example', address: '198.18.0.2' }));
    // Through the kernel's delete: the plugin drops its rows in the siteRemoving hook (no foreign key).
    await db.transaction(async (trx) => h.kernel.services.sites.remove(trx, await trx('sites').where({ id: siteId }).first()));
    t.falsy(await db('sites').where({ id: siteId }).first());
    t.is((await db('dns_records').where({ site_id: siteId }).count('* as count').first())!.count, 0);
  });
}
