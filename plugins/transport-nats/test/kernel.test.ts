/**
 * A kernel with SPROUT_NATS_URL (plugins.transport-nats.url) set picks transport-nats, applies its config defaults, reports
 * it in /readyz, and gives registering agents settings their half can connect with.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { transportCapability, type WorkItem } from '@sprout/kernel';
import { startHarness } from '@sprout/test-support/harness.ts';
import { agentSide, natsUrl, randomPrefix, removeStreams } from '@sprout/test-support/nats-world.ts';

test('a kernel with SPROUT_NATS_URL uses transport-nats end to end: readiness, work to an agent with the settings it hands out', async (t) => {
  const prefix = randomPrefix();
  const h = await startHarness('pglite', {
    env: { SPROUT_NATS_URL: natsUrl },
    yaml: `plugins:\n  transport-nats:\n    prefix: ${prefix}\n    ackWaitMs: 2000\n`,
  });
  const agents: { close(): Promise<void> }[] = [];
  t.teardown(async () => {
    for (const agent of agents) await agent.close();
    await h.stop();
    await removeStreams(prefix);
  });

  t.is(h.kernel.activeProvider('transport'), 'transport-nats');
  const transport = await h.kernel.capability(transportCapability);
  const deadline = Date.now() + 15_000;
  while (!transport.health().connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const ready = await h.request({ url: '/readyz', token: null });
  t.is(ready.status, 200, JSON.stringify(ready.body));

  const { plugin, settings } = h.kernel.agentTransportSettings();
  t.is(plugin, 'transport-nats');
  t.like(settings, { url: natsUrl, prefix, ackWaitMs: 2000, maxDeliver: 5 });

  const siteId = randomUUID();
  const agent = await agentSide(settings, siteId, randomUUID());
  agents.push(agent);
  const got: WorkItem[] = [];
  await agent.consumeWork(async (item) => {
    got.push(item);
  });
  const item: WorkItem = { id: randomUUID(), siteId, kind: 'kernel-test', workflowId: null, stepId: null, payload: { hello: 'site' } };
  await transport.publishWork(item);
  while (got.length === 0 && Date.now() < deadline + 15_000) await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(got, [item]);
});
