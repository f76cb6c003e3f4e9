/**
 * Reports reach the control planes' handler in the order each agent sent them, each once,
 * with several control planes sharing the consumers; and a site whose report is still being
 * applied holds up only itself, not the other sites.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { AgentReport } from '@sprout/kernel';
import { natsWorld, until } from '@sprout/test-support/nats-world.ts';

function reportsOf(agentId: string, siteId: string, count: number): AgentReport[] {
  return Array.from({ length: count }, (_, i) => ({
    agentId,
    siteId,
    sequence: i + 1,
    kind: 'event',
    workItemId: null,
    at: new Date(Date.UTC(2030, 0, 1, 0, 0, i)).toISOString(),
    payload: { sequence: i + 1 },
  }));
}

test('three control planes hand over every agent’s reports once and in order, and a slow site holds up only itself', async (t) => {
  const world = await natsWorld({ ackWaitMs: 2_000 });
  t.teardown(() => world.cleanup());
  const perAgent = 40;
  const sites = [randomUUID(), randomUUID(), randomUUID()];
  const agents = sites.map((siteId) => ({ siteId, agentId: randomUUID() }));
  const [held, ...others] = agents;

  const got: AgentReport[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  for (let i = 0; i < 3; i++) {
    const control = await world.control();
    await control.onReport(async (report) => {
      // The held site's first report stays in hand until the other sites are through.
      if (report.agentId === held.agentId && report.sequence === 1) await released;
      got.push(report);
    });
  }
  for (const { siteId, agentId } of agents) {
    const agent = await world.agent(siteId, agentId);
    await agent.publishReports(reportsOf(agentId, siteId, perAgent));
  }

  const of = (agentId: string) => got.filter((r) => r.agentId === agentId).map((r) => r.sequence);
  const inOrder = Array.from({ length: perAgent }, (_, i) => i + 1);
  await until('the sites not held up have their reports handed over', () => others.every((a) => of(a.agentId).length >= perAgent));
  t.deepEqual(of(held.agentId), [], 'nothing of the held site passes its first report');
  release();
  await until('every report is handed over', () => got.length >= perAgent * agents.length);
  // Anything handed over twice would have arrived by now: redeliveries come after an ack wait.
  await new Promise((resolve) => setTimeout(resolve, world.settleMs));
  for (const { agentId } of agents) t.deepEqual(of(agentId), inOrder, `agent ${agentId}`);
  t.is(got.length, perAgent * agents.length);
  t.true(got.every((r) => r.channelSiteId === r.siteId));
});
