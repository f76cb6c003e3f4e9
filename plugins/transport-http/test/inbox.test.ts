/**
 * The durable inboxes with several control-plane instances on one database: each agent's
 * reports reach the handlers in sequence order and once, and a dead letter whose handler
 * fails comes back; nothing here depends on which instance takes a row.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { transportCapability, type AgentReport, type WorkItem } from '@sprout/kernel';
import { backends, startHarness, type Backend, type Harness } from '../../../test/helpers/harness.ts';
import { HttpWorkQueue } from '../src/work-queue.ts';
import { reportInbox } from '../src/report-inbox.ts';

// A claim longer than any test: a row is never handed to a second instance because the first was slow.
const settings = { ackWaitMs: 60_000, maxDeliver: 2, pollIntervalMs: 20 };

/** A kernel's database with the plugin's tables; the kernel's own instance is closed, so only the test's instances drain. */
async function kernelDb(t: { teardown(fn: () => Promise<void>): void }, backend: Backend): Promise<Harness> {
  const harness = await startHarness(backend);
  t.teardown(() => harness.stop());
  await (await harness.kernel.capability(transportCapability)).close();
  return harness;
}

async function waitFor(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

for (const backend of backends) {
  test(`${backend}: two instances draining one inbox hand each agent’s reports over in sequence order, each once`, async (t) => {
    const { kernel } = await kernelDb(t, backend);
    const db = kernel.store.db;
    const front = new HttpWorkQueue(db, settings);
    const replicas = [new HttpWorkQueue(db, settings), new HttpWorkQueue(db, settings)];
    t.teardown(async () => {
      for (const side of [front, ...replicas]) await side.close();
    });
    const got: AgentReport[] = [];
    for (const replica of replicas) {
      await replica.onReport(async (report) => {
        await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 30));
        got.push(report);
      });
    }
    const agents = [randomUUID(), randomUUID(), randomUUID()];
    const siteId = randomUUID();
    for (let batch = 0; batch < 4; batch++) {
      for (const agentId of agents) {
        const reports = [1, 2, 3].map((i): AgentReport => ({ agentId, siteId, sequence: batch * 3 + i, kind: 'event', workItemId: null, at: new Date().toISOString(), payload: {} }));
        await front.agentHttp.acceptReports(reports);
        if (batch === 1) await front.agentHttp.acceptReports(reports); // a retried POST
      }
    }
    await waitFor('all 36 reports are handled', () => got.length >= 36);
    await new Promise((resolve) => setTimeout(resolve, 500));
    t.is(got.length, 36);
    for (const agentId of agents) {
      t.deepEqual(
        got.filter((r) => r.agentId === agentId).map((r) => r.sequence),
        Array.from({ length: 12 }, (_, i) => i + 1),
      );
    }
    t.is(Number((await db('http_report_inbox').count({ n: '*' }).first())?.n), 0, 'the inbox is empty once every report is handled');
  });

  test(`${backend}: a batch goes on past a failing report, holds back that agent’s later ones, and retries it`, async (t) => {
    const { kernel } = await kernelDb(t, backend);
    const queue = new HttpWorkQueue(kernel.store.db, settings);
    t.teardown(() => queue.close());
    const siteId = randomUUID();
    const [a, b] = [randomUUID(), randomUUID()];
    const report = (agentId: string, sequence: number): AgentReport => ({ agentId, siteId, sequence, kind: 'event', workItemId: null, at: new Date().toISOString(), payload: {} });
    // Stored before any handler drains, so one batch holds all of them.
    await queue.agentHttp.acceptReports([1, 2, 3, 4, 5].flatMap((i) => (i <= 3 ? [report(a, i), report(b, i)] : [report(a, i)])));
    const handled: string[] = [];
    let attempts = 0;
    // Idempotent, as the kernel's handler is: a report handed over again changes nothing.
    await queue.onReport(async (r) => {
      const name = `${r.agentId === a ? 'a' : 'b'}${r.sequence}`;
      if (handled.includes(name)) return;
      // Fails in the batch and again on its own, so it waits for the retry delay.
      if (name === 'a2' && attempts++ < 2) throw new Error('the engine is briefly unavailable');
      handled.push(name);
    });
    await waitFor('all 8 reports are handled', () => handled.length >= 8);
    t.deepEqual(handled.filter((h) => h.startsWith('a')), ['a1', 'a2', 'a3', 'a4', 'a5'], 'a’s reports stay in order');
    t.deepEqual(handled.filter((h) => h.startsWith('b')), ['b1', 'b2', 'b3']);
    t.true(handled.indexOf('b3') < handled.indexOf('a2'), 'b is not held back by a’s failing report');
    t.is(attempts, 3, 'the failed report is handed over again');
    t.is(Number((await kernel.store.db('http_report_inbox').count({ n: '*' }).first())?.n), 0);
  });

  if (backend === 'postgres') {
    test(`${backend}: a claim skips an agent’s reports past an earlier one another instance is claiming`, async (t) => {
      const { kernel } = await kernelDb(t, backend);
      const db = kernel.store.db;
      const queue = new HttpWorkQueue(db, settings);
      t.teardown(() => queue.close());
      const siteId = randomUUID();
      const [a, b] = [randomUUID(), randomUUID()];
      const report = (agentId: string, sequence: number): AgentReport => ({ agentId, siteId, sequence, kind: 'event', workItemId: null, at: new Date().toISOString(), payload: {} });
      await queue.agentHttp.acceptReports([report(a, 1), report(a, 2), report(a, 3), report(b, 1)]);
      const other = await db.transaction();
      t.teardown(() => other.rollback().catch(() => {}));
      await other('http_report_inbox').where({ agent_id: a, sequence: 1 }).forUpdate().first();
      const claimed = await db.transaction((trx) => reportInbox.next(trx, 100));
      t.deepEqual(claimed.map((row) => `${row.agent_id === a ? 'a' : 'b'}${row.sequence}`), ['b1']);
    });
  }

  test(`${backend}: a dead letter whose handler throws is handed over again, naming the deliveries`, async (t) => {
    const { kernel } = await kernelDb(t, backend);
    const queue = new HttpWorkQueue(kernel.store.db, settings);
    t.teardown(() => queue.close());
    const calls: { item: WorkItem; reason: string }[] = [];
    await queue.onDeadLetter(async (item, reason) => {
      calls.push({ item, reason });
      if (calls.length === 1) throw new Error('the engine is briefly unavailable');
    });
    const siteId = randomUUID();
    const item: WorkItem = { id: randomUUID(), siteId, kind: 'inbox-test', workflowId: null, stepId: null, payload: {} };
    await queue.publishWork(item);
    for (let attempt = 1; attempt <= settings.maxDeliver; attempt++) {
      const [leased] = await queue.agentHttp.pollWork(siteId, 0);
      t.is(leased.delivery.attempt, attempt);
      await queue.agentHttp.settleWork(siteId, [item.id], 'nak');
    }
    t.deepEqual(await queue.agentHttp.pollWork(siteId, 0), [], 'an exhausted item is not delivered again');
    await waitFor('the dead letter is handed over a second time', () => calls.length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    t.is(calls.length, 2);
    t.deepEqual(calls[1].item, item);
    t.regex(calls[1].reason, /after 2 deliveries/);
  });
}
