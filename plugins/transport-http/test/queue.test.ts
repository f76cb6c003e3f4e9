/**
 * transport-http on the kernel's outbox, with several control-plane instances on one
 * database: leases never hand one item to two polls, a long poll wakes for new work
 * without waiting for its safety look, exhausted work reaches the dead-letter handler
 * (again when it threw) and is then given up, rows another transport published are not
 * leased, and reports posted twice at once are applied once.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { transportCapability, type AgentReport, type WorkItem } from '@sprout/kernel';
import { backends, startHarness, type Backend, type Harness } from '@sprout/test-support/harness.ts';
import { HttpWorkQueue } from '../src/work-queue.ts';

const settings = { ackWaitMs: 500, maxDeliver: 2, pollIntervalMs: 60_000 };

async function kernelFor(t: { teardown(fn: () => Promise<void>): void }, backend: Backend): Promise<Harness> {
  const harness = await startHarness(backend);
  t.teardown(() => harness.stop());
  return harness;
}

async function waitFor(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function queued(harness: Harness, siteId: string, n = 1, extra: Record<string, unknown> = {}): Promise<string[]> {
  const db = harness.kernel.store.db;
  await db('sites')
    .insert({ id: siteId, name: `s-${siteId.slice(0, 8)}` })
    .onConflict('id')
    .ignore();
  const rows = await db('outbox')
    .insert(Array.from({ length: n }, (_, i) => ({ site_id: siteId, kind: 'queue-test', payload: JSON.stringify({ i }), ...extra })))
    .returning('id');
  return rows.map((row: { id: number } | number) => `wi-${typeof row === 'object' ? row.id : row}`);
}

// One at a time: several PGlite kernels booting at once on a loaded machine can each outwait knex.
for (const backend of backends) {
  test.serial(`${backend}: two instances polling one site lease each item once, oldest first`, async (t) => {
    const harness = await kernelFor(t, backend);
    // Leases far longer than the test: an item leased again here would be a second lease of a live one.
    const long = { ...settings, ackWaitMs: 600_000 };
    const replicas = [new HttpWorkQueue(harness.kernel.services.workQueue, long), new HttpWorkQueue(harness.kernel.services.workQueue, long)];
    t.teardown(async () => {
      for (const side of replicas) await side.close();
    });
    const siteId = randomUUID();
    const ids = await queued(harness, siteId, 120);
    const leased: string[][] = [[], []];
    for (let round = 0; round < 4; round++) {
      const got = await Promise.all(replicas.map((side) => side.pollWork(siteId, 0)));
      got.forEach((items, i) => leased[i].push(...items.map(({ item }) => item.id)));
    }
    const all = [...leased[0], ...leased[1]];
    t.is(new Set(all).size, all.length, 'no item went to both');
    t.deepEqual([...all].sort(), [...ids].sort());
    for (const mine of leased)
      t.deepEqual(
        mine,
        [...mine].sort((a, b) => Number(a.slice(3)) - Number(b.slice(3))),
        'each poll leases oldest first',
      );
  });

  test.serial(`${backend}: a waiting long poll gets work written after it started, before its safety look`, async (t) => {
    const harness = await kernelFor(t, backend);
    const queue = new HttpWorkQueue(harness.kernel.services.workQueue, settings);
    t.teardown(() => queue.close());
    const siteId = randomUUID();
    await queued(harness, randomUUID()); // another site's work wakes nothing of this one
    await harness.kernel.store.db('sites').insert({ id: siteId, name: `s-${siteId.slice(0, 8)}` });
    // Waits up to 30 s; without a wake-up it would look again only after 60 s, and answer empty.
    const polling = queue.pollWork(siteId, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const [id] = await queued(harness, siteId);
    const got = await polling;
    t.deepEqual(
      got.map(({ item }) => item.id),
      [id],
    );
  });

  test.serial(`${backend}: exhausted work reaches the dead-letter handler, again after it threw, and is then given up`, async (t) => {
    const harness = await kernelFor(t, backend);
    const queue = new HttpWorkQueue(harness.kernel.services.workQueue, settings);
    t.teardown(() => queue.close());
    const calls: { item: WorkItem; reason: string }[] = [];
    await queue.onDeadLetter(async (item, reason) => {
      calls.push({ item, reason });
      if (calls.length === 1) throw new Error('the engine is briefly unavailable');
    });
    const siteId = randomUUID();
    const [id] = await queued(harness, siteId);
    for (let attempt = 1; attempt <= settings.maxDeliver; attempt++) {
      const [leased] = await queue.pollWork(siteId, 0);
      t.is(leased.delivery.attempt, attempt);
      await queue.settleWork(siteId, [id], 'nak');
    }
    t.deepEqual(await queue.pollWork(siteId, 0), [], 'an exhausted item is not delivered again');
    await waitFor('the dead letter is handed over a second time', () => calls.length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    t.is(calls.length, 2);
    t.like(calls[1].item, { id, siteId, kind: 'queue-test', payload: { i: 0 } });
    t.regex(calls[1].reason, /after 2 deliveries/);
    const row = await harness.kernel.store
      .db('outbox')
      .where({ id: Number(id.slice(3)) })
      .first('dead_at', 'dead_reason');
    t.truthy(row.dead_at);
    t.regex(row.dead_reason, /after 2 deliveries/);
  });

  test.serial(`${backend}: rows another transport already published are not leased; withdrawn ones neither`, async (t) => {
    const harness = await kernelFor(t, backend);
    const queue = new HttpWorkQueue(harness.kernel.services.workQueue, settings);
    t.teardown(() => queue.close());
    const siteId = randomUUID();
    await queued(harness, siteId, 1, { dispatched_at: new Date() });
    const [withdrawn, fresh] = await queued(harness, siteId, 2);
    await queue.withdrawWork(siteId, [withdrawn]);
    t.deepEqual(
      (await queue.pollWork(siteId, 0)).map(({ item }) => item.id),
      [fresh],
    );
  });

  test.serial(`${backend}: the same reports posted twice at once are applied once, before the POST answers`, async (t) => {
    const harness = await kernelFor(t, backend);
    const { kernel } = harness;
    const db = kernel.store.db;
    const transport = (await kernel.capability(transportCapability)) as HttpWorkQueue;
    const siteId = randomUUID();
    const agentId = randomUUID();
    await db('sites').insert({ id: siteId, name: `s-${siteId.slice(0, 8)}` });
    await db('agents').insert({ id: agentId, site_id: siteId, hostname: 'a', credential_hash: randomUUID() });
    const reports: AgentReport[] = [1, 2, 3].map((sequence) => ({
      agentId,
      siteId,
      sequence,
      kind: 'queue-test',
      workItemId: null,
      at: new Date().toISOString(),
      payload: { sequence },
      channelSiteId: siteId,
    }));
    await Promise.all([transport.acceptReports(reports), transport.acceptReports(reports)]);
    const audited = await db('audit_records').where({ action: 'agent.queue-test' }).select('details');
    t.deepEqual(audited.map((row) => (typeof row.details === 'string' ? JSON.parse(row.details) : row.details).sequence).sort(), [1, 2, 3]);
    t.is(Number((await db('agents').where({ id: agentId }).first('last_report_sequence')).last_report_sequence), 3);
  });
}
