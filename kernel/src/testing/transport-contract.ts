/**
 * The contract every `transport` plugin must pass, both halves together, as ava tests:
 * work reaches only its site's agent, once per id, again after a failure and, when it
 * never succeeds, the dead-letter handler; reports reach the control plane in order,
 * again after a failure, and even when they were sent while no control plane ran (the
 * agent sending them again until taken, as its report journal does).
 * A transport package runs it from its own test file:
 *
 *   transportContract(test, 'transport-acme', () => makeAcmeWorld());
 *
 * Every wait is bounded; "nothing more arrives" is checked by waiting `settleMs`.
 */
import { randomUUID } from 'node:crypto';
import type { ExecutionContext, TestFn } from 'ava';
import type { AgentReport, AgentTransport, DeliveryInfo, TransportProvider, WorkItem } from '../capabilities/transport.ts';

/** One isolated transport installation; a new one for every test. */
export interface TransportWorld {
  /** A fresh control-plane side on each call, as another replica or a restart would be. */
  control(): Promise<TransportProvider>;
  /** A fresh agent side for `siteId` on each call. */
  agent(siteId: string, agentId: string): Promise<AgentTransport>;
  /**
   * Hands work to the transport as the kernel does, returning the item as published (its id
   * may be the queue's). Absent: `control.publishWork(item)`. A transport that leases from
   * the kernel's outbox writes an outbox row instead.
   */
  publish?(control: TransportProvider, item: WorkItem): Promise<WorkItem>;
  /** How long to wait before believing nothing more arrives: longer than the transport's redelivery delay. */
  settleMs: number;
  /** Closes every side it made and removes what it created (queues, streams, rows). */
  cleanup(): Promise<void>;
}

/** How long any one expectation may take before the test fails. */
const patienceMs = 15_000;

export function transportContract(test: TestFn, name: string, makeWorld: () => Promise<TransportWorld>): void {
  const title = (what: string) => `${name}: ${what}`;

  const publish = async (world: TransportWorld, control: TransportProvider, item: WorkItem): Promise<WorkItem> => {
    if (world.publish) return world.publish(control, item);
    await control.publishWork(item);
    return item;
  };

  async function worldFor(t: ExecutionContext): Promise<TransportWorld> {
    const world = await makeWorld();
    t.teardown(() => world.cleanup());
    return world;
  }

  test(title('work published while no agent consumes is delivered when the agent starts'), async (t) => {
    const world = await worldFor(t);
    const control = await world.control();
    const siteId = randomUUID();
    const first = await publish(world, control, workItem(siteId, { step: 1 }));
    const second = await publish(world, control, workItem(siteId, { step: 2 }));

    const seen: { item: WorkItem; delivery: DeliveryInfo }[] = [];
    const agent = await world.agent(siteId, randomUUID());
    await agent.consumeWork(async (item, delivery) => {
      seen.push({ item, delivery });
    });
    await waitFor('both items reach the agent', () => seen.length >= 2);
    await settle(world);
    t.deepEqual(
      seen.map((s) => s.item.id),
      [first.id, second.id],
    );
    t.deepEqual(seen[0].item, first);
    t.is(seen[0].delivery.attempt, 1);
    t.true(seen[0].delivery.maxAttempts >= 2, 'a transport allows at least one redelivery');
  });

  test(title('a handler that throws gets the item again with attempt 2, and it is then handled once'), async (t) => {
    const world = await worldFor(t);
    const control = await world.control();
    const siteId = randomUUID();
    const agent = await world.agent(siteId, randomUUID());
    const attempts: number[] = [];
    let handled = 0;
    await agent.consumeWork(async (_item, delivery) => {
      attempts.push(delivery.attempt);
      if (delivery.attempt === 1) throw new Error('the first attempt fails');
      handled += 1;
    });
    await publish(world, control, workItem(siteId));
    await waitFor('the item is handled after a failure', () => handled > 0);
    await settle(world);
    t.deepEqual(attempts, [1, 2]);
    t.is(handled, 1);
  });

  test(title('the same item id published twice is handled once'), async (t) => {
    const world = await worldFor(t);
    const control = await world.control();
    const siteId = randomUUID();
    const item = await publish(world, control, workItem(siteId));
    // As the dispatcher does when it hands a row over again (a crash before it marked it, two replicas).
    await control.publishWork({ ...item });
    const after = await publish(world, control, workItem(siteId));

    const handled: string[] = [];
    const agent = await world.agent(siteId, randomUUID());
    await agent.consumeWork(async (got) => {
      handled.push(got.id);
    });
    await waitFor('the item published after the duplicate is handled', () => handled.includes(after.id));
    await settle(world);
    t.is(handled.filter((id) => id === item.id).length, 1, 'the duplicated item is handled exactly once');
    t.is(handled.length, 2);
  });

  test(title("items of site A never reach site B's agent"), async (t) => {
    const world = await worldFor(t);
    const control = await world.control();
    const [siteA, siteB] = [randomUUID(), randomUUID()];
    const received = { [siteA]: [] as WorkItem[], [siteB]: [] as WorkItem[] };
    for (const siteId of [siteA, siteB]) {
      const agent = await world.agent(siteId, randomUUID());
      await agent.consumeWork(async (item) => {
        received[siteId].push(item);
      });
    }
    const published = { [siteA]: [] as string[], [siteB]: [] as string[] };
    for (let i = 0; i < 3; i++) {
      for (const siteId of [siteA, siteB]) {
        const item = await publish(world, control, workItem(siteId, { i }));
        published[siteId].push(item.id);
      }
    }
    await waitFor('each agent gets its three items', () => received[siteA].length >= 3 && received[siteB].length >= 3);
    await settle(world);
    t.deepEqual(received[siteA].map((i) => i.id).sort(), [...published[siteA]].sort());
    t.deepEqual(received[siteB].map((i) => i.id).sort(), [...published[siteB]].sort());
    t.true(received[siteA].every((i) => i.siteId === siteA));
    t.true(received[siteB].every((i) => i.siteId === siteB));
  });

  test(title('reports reach onReport in the order the agent sent them'), async (t) => {
    const world = await worldFor(t);
    const control = await world.control();
    const got: AgentReport[] = [];
    await control.onReport(async (report) => {
      got.push(report);
    });
    const siteId = randomUUID();
    const agentId = randomUUID();
    const agent = await world.agent(siteId, agentId);
    const reports = Array.from({ length: 20 }, (_, i) => report(agentId, siteId, i + 1));
    await send(agent, reports.slice(0, 12));
    await send(agent, reports.slice(12));
    await waitFor('all 20 reports arrive', () => got.length >= 20);
    await settle(world);
    t.deepEqual(
      got.map((r) => r.sequence),
      reports.map((r) => r.sequence),
    );
    // The control side says which site's channel carried each report, whatever the report claims.
    t.deepEqual(got[4], { ...reports[4], channelSiteId: siteId });
    t.true(got.every((r) => r.channelSiteId === siteId));
  });

  test(title('a report whose handler throws is delivered again'), async (t) => {
    const world = await worldFor(t);
    const control = await world.control();
    const tries = new Map<number, number>();
    const applied: number[] = [];
    await control.onReport(async (report) => {
      const n = (tries.get(report.sequence) ?? 0) + 1;
      tries.set(report.sequence, n);
      if (report.sequence === 1 && n === 1) throw new Error('the database is briefly unavailable');
      applied.push(report.sequence);
    });
    const siteId = randomUUID();
    const agentId = randomUUID();
    const agent = await world.agent(siteId, agentId);
    await send(agent, [report(agentId, siteId, 1), report(agentId, siteId, 2)]);
    await waitFor('both reports are applied', () => applied.includes(1) && applied.includes(2));
    await settle(world);
    t.is(tries.get(1), 2, 'the failed report came back once');
    t.deepEqual([...applied].sort(), [1, 2]);
  });

  test(title('reports published while no control-plane side runs arrive when one starts'), async (t) => {
    const world = await worldFor(t);
    const first = await world.control();
    const beforeRestart: AgentReport[] = [];
    await first.onReport(async (r) => {
      beforeRestart.push(r);
    });
    await first.close();

    const siteId = randomUUID();
    const agentId = randomUUID();
    const agent = await world.agent(siteId, agentId);
    const reports = [1, 2, 3].map((sequence) => report(agentId, siteId, sequence));
    // A transport without a broker refuses them until a control plane takes them; the agent's journal keeps sending.
    const sending = send(agent, reports);
    await settle(world);

    const second = await world.control();
    const afterRestart: AgentReport[] = [];
    await second.onReport(async (r) => {
      afterRestart.push(r);
    });
    await sending;
    await waitFor('the new control-plane side gets the reports', () => afterRestart.length >= 3);
    await settle(world);
    t.deepEqual(
      afterRestart.map((r) => r.sequence),
      [1, 2, 3],
    );
    t.deepEqual(beforeRestart, []);
  });

  test(title('an item never acknowledged reaches onDeadLetter after maxAttempts'), async (t) => {
    const world = await worldFor(t);
    const control = await world.control();
    const dead: { item: WorkItem; reason: string }[] = [];
    await control.onDeadLetter(async (item, reason) => {
      dead.push({ item, reason });
    });
    const siteId = randomUUID();
    const agent = await world.agent(siteId, randomUUID());
    const deliveries: DeliveryInfo[] = [];
    await agent.consumeWork(async (_item, delivery) => {
      deliveries.push(delivery);
      throw new Error('the BMC does not answer');
    });
    const item = await publish(world, control, workItem(siteId, { machine: 'm-1' }));
    await waitFor('the item is dead-lettered', () => dead.length > 0);
    await settle(world);
    const maxAttempts = deliveries[0].maxAttempts;
    t.deepEqual(
      deliveries.map((d) => d.attempt),
      Array.from({ length: maxAttempts }, (_, i) => i + 1),
      'delivered exactly maxAttempts times, counting up',
    );
    t.is(dead.length, 1);
    t.deepEqual(dead[0].item, item);
    t.true(dead[0].reason.includes(String(maxAttempts)), `the reason says how many deliveries failed: ${dead[0].reason}`);
  });

  test(title('work whose agent stops before finishing is delivered again to the next agent'), async (t) => {
    const world = await worldFor(t);
    const control = await world.control();
    const siteId = randomUUID();
    const started: DeliveryInfo[] = [];
    const first = await world.agent(siteId, randomUUID());
    await first.consumeWork(async (_item, delivery) => {
      started.push(delivery);
      await new Promise(() => {}); // the agent dies in the middle of the task
    });
    const item = await publish(world, control, workItem(siteId));
    await waitFor('the first agent starts the item', () => started.length > 0);
    await first.close();

    const redelivered: { item: WorkItem; delivery: DeliveryInfo }[] = [];
    const second = await world.agent(siteId, randomUUID());
    await second.consumeWork(async (got, delivery) => {
      redelivered.push({ item: got, delivery });
    });
    await waitFor('the next agent gets the item', () => redelivered.length > 0);
    await settle(world);
    t.is(redelivered.length, 1);
    t.is(redelivered[0].item.id, item.id);
    t.is(redelivered[0].delivery.attempt, 2);
  });
}

function workItem(siteId: string, payload: Record<string, unknown> = {}): WorkItem {
  return { id: randomUUID(), siteId, kind: 'contract-test', workflowId: null, stepId: null, payload };
}

function report(agentId: string, siteId: string, sequence: number): AgentReport {
  return {
    agentId,
    siteId,
    sequence,
    kind: 'event',
    workItemId: null,
    at: new Date(Date.UTC(2030, 0, 1, 0, 0, sequence)).toISOString(),
    payload: { sequence },
  };
}

/**
 * Sends reports as the agent's report journal does: again, after a pause, until the
 * control plane's side takes them (a broker takes them at once).
 */
async function send(agent: AgentTransport, reports: AgentReport[]): Promise<void> {
  const deadline = Date.now() + patienceMs;
  for (;;) {
    try {
      return await agent.publishReports(reports);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function waitFor(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + patienceMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${patienceMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function settle(world: TransportWorld): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, world.settleMs));
}
