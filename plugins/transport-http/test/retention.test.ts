/**
 * Settled work does not pile up: items acknowledged or withdrawn (dead) more than
 * keepSettledHours ago are deleted; recent ones and unsettled ones stay.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { transportCapability, type WorkItem } from '@sprout/kernel';
import { backends, startHarness } from '../../../test/helpers/harness.ts';
import { HttpWorkQueue } from '../src/work-queue.ts';

for (const backend of backends) {
  test(`${backend}: settled items older than keepSettledHours are deleted, the rest kept`, async (t) => {
    const harness = await startHarness(backend);
    t.teardown(() => harness.stop());
    await (await harness.kernel.capability(transportCapability)).close();
    const db = harness.kernel.store.db;
    const queue = new HttpWorkQueue(db, { ackWaitMs: 60_000, maxDeliver: 3, pollIntervalMs: 20, keepSettledHours: 2 });
    t.teardown(() => queue.close());
    const siteId = randomUUID();
    const item = (id: string): WorkItem => ({ id, siteId, kind: 'sync-site', payload: {} });
    await queue.publishWorkMany(['old-ack', 'new-ack', 'old-dead', 'open'].map(item));
    const leased = await queue.pollWork(siteId, 0);
    t.is(leased.length, 4);
    await queue.settleWork(siteId, ['old-ack', 'new-ack'], 'ack');
    await queue.withdrawWork(siteId, ['old-dead']);
    // Settled three hours ago, by the database's clock.
    await db('http_work_items').where({ id: 'old-ack' }).update({ acked_at: db.raw(`now() - interval '3 hours'`) });
    await db('http_work_items').where({ id: 'old-dead' }).update({ dead_at: db.raw(`now() - interval '3 hours'`) });

    t.is(await queue.pruneSettled(), 2);
    const left = (await db('http_work_items').select('id').orderBy('id')).map((row) => row.id);
    t.deepEqual(left, ['new-ack', 'open']);
    t.is(await queue.pruneSettled(), 0, 'nothing more is old enough');
  });
}
