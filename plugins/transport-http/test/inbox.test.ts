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
