/**
 * The streams and consumers on the server are the ones docs/nats.md describes, and a
 * control plane or agent started with changed settings brings them up to date.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { connect, millis } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { AgentReport } from '@sprout/kernel';
import { agentSide, controlSide, natsUrl, pluginConfig, randomPrefix, removeStreams } from '@sprout/test-support/nats-world.ts';

async function inspect<T>(look: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: natsUrl.replace(/^nats:\/\//, '') });
  try {
    return await look(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

test('the control plane creates WORK, REPORTS, DEAD_LETTERS and the STATE bucket, and the agent its own consumer', async (t) => {
  const prefix = randomPrefix();
  const config = pluginConfig({ prefix });
  const control = await controlSide(natsUrl, config);
  const siteId = randomUUID();
  const agent = await agentSide({ ...config, url: natsUrl }, siteId, randomUUID());
  t.teardown(async () => {
    await agent.close();
    await control.close();
    await removeStreams(prefix);
  });
  const reported: AgentReport[] = [];
  await control.onReport(async (report) => void reported.push(report));
  await agent.consumeWork(async () => {});
  // A site's reports get their own consumer once the site has reported.
  await agent.publishReports([{ agentId: randomUUID(), siteId, sequence: 1, kind: 'event', workItemId: null, at: new Date().toISOString(), payload: {} }]);
  const upper = prefix.toUpperCase();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && (reported.length === 0 || !(await inspect(async (jsm) => (await jsm.consumers.list(`${upper}_WORK`).next()).length > 0)))) {
    await new Promise((r) => setTimeout(r, 50));
  }

  const { work, reports, dead, state, agentConsumer, controlConsumer, reportConsumers } = await inspect(async (jsm) => ({
    work: (await jsm.streams.info(`${upper}_WORK`)).config,
    reports: (await jsm.streams.info(`${upper}_REPORTS`)).config,
    dead: (await jsm.streams.info(`${upper}_DEAD_LETTERS`)).config,
    state: await (await new Kvm(jsm.jetstream()).open(`${upper}_STATE`)).status(),
    agentConsumer: (await jsm.consumers.info(`${upper}_WORK`, `agent-${siteId}`)).config,
    controlConsumer: (await jsm.consumers.info(`${upper}_REPORTS`, `control-plane-${siteId}`)).config,
    reportConsumers: (await jsm.consumers.list(`${upper}_REPORTS`).next()).map((c) => c.name),
  }));
  t.like(work, { subjects: [`${prefix}.work.>`], retention: 'workqueue', storage: 'file' });
  t.is(millis(work.duplicate_window), 2 * 3_600_000);
  t.like(reports, { subjects: [`${prefix}.reports.>`], retention: 'limits', storage: 'file' });
  t.is(millis(reports.max_age), 7 * 86_400_000);
  t.like(dead, { subjects: [`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${upper}_WORK.*`], retention: 'limits', storage: 'file' });
  t.like(state, {
    bucket: `${upper}_STATE`,
    history: 1,
    replicas: 1,
    streamInfo: { config: { name: `KV_${upper}_STATE`, subjects: [`$KV.${upper}_STATE.>`], storage: 'file' } },
  });
  t.like(agentConsumer, { durable_name: `agent-${siteId}`, filter_subject: `${prefix}.work.${siteId}`, ack_policy: 'explicit', max_deliver: 5 });
  t.is(millis(agentConsumer.ack_wait ?? 0), 30_000);
  t.like(controlConsumer, {
    durable_name: `control-plane-${siteId}`,
    filter_subject: `${prefix}.reports.${siteId}`,
    ack_policy: 'explicit',
    max_ack_pending: 1,
  });
  t.deepEqual(reportConsumers, [`control-plane-${siteId}`]);
});

test('changed settings take effect on the next start: duplicate window, ack wait, deliveries', async (t) => {
  const prefix = randomPrefix();
  const siteId = randomUUID();
  const sides: { close(): Promise<void> }[] = [];
  t.teardown(async () => {
    for (const side of sides.reverse()) await side.close();
    await removeStreams(prefix);
  });
  for (const [ackWaitMs, maxDeliver, duplicateWindowMs] of [
    [30_000, 5, 7_200_000],
    [5_000, 2, 600_000],
  ]) {
    const config = pluginConfig({ prefix, ackWaitMs, maxDeliver, duplicateWindowMs });
    const control = await controlSide(natsUrl, config);
    sides.push(control);
    await control.onReport(async () => {});
    const agent = await agentSide({ ...config, url: natsUrl }, siteId, randomUUID());
    sides.push(agent);
    await agent.consumeWork(async () => {});
    await agent.publishReports([
      { agentId: randomUUID(), siteId, sequence: 1, kind: 'event', workItemId: null, at: new Date().toISOString(), payload: { ackWaitMs } },
    ]);
    const deadline = Date.now() + 15_000;
    let seen: { ackWaitMs: number; maxDeliver: number; reportsAckWaitMs: number; duplicateWindowMs: number } | undefined;
    while (Date.now() < deadline) {
      seen = await inspect(async (jsm) => {
        const agentConsumer = await jsm.consumers.info(`${prefix.toUpperCase()}_WORK`, `agent-${siteId}`).catch(() => undefined);
        const reports = await jsm.consumers.info(`${prefix.toUpperCase()}_REPORTS`, `control-plane-${siteId}`).catch(() => undefined);
        const work = await jsm.streams.info(`${prefix.toUpperCase()}_WORK`);
        return {
          ackWaitMs: agentConsumer ? millis(agentConsumer.config.ack_wait ?? 0) : 0,
          maxDeliver: agentConsumer?.config.max_deliver ?? 0,
          reportsAckWaitMs: reports ? millis(reports.config.ack_wait ?? 0) : 0,
          duplicateWindowMs: millis(work.config.duplicate_window),
        };
      });
      if (seen.ackWaitMs === ackWaitMs && seen.maxDeliver === maxDeliver && seen.reportsAckWaitMs === ackWaitMs) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    t.deepEqual(seen, { ackWaitMs, maxDeliver, reportsAckWaitMs: ackWaitMs, duplicateWindowMs });
    await agent.close();
    await control.close();
    sides.length = 0;
  }
});
