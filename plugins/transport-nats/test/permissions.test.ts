/**
 * An agent whose NATS user has only `agentPermissions(prefix, siteId)` does its job —
 * consumes its site's work, reports for its site — and nothing else: it cannot report for
 * another site nor consume another site's work. Runs a nats-server of its own on loopback.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import type { AgentReport, AgentTransport, TransportProvider, WorkItem } from '@sprout/kernel';
import { agentPermissions } from '../src/index.ts';
import { agentSide, controlSide, memoryLogger, pluginConfig, until } from '@sprout/test-support/nats-world.ts';
import { startNatsServer } from '@sprout/test-support/nats-server-process.ts';

const item = (siteId: string): WorkItem => ({ id: randomUUID(), siteId, kind: 'permissions-test', workflowId: null, stepId: null, payload: {} });
const report = (agentId: string, siteId: string, sequence: number): AgentReport => ({
  agentId,
  siteId,
  sequence,
  kind: 'event',
  at: new Date().toISOString(),
  payload: {},
});

test("an agent's NATS user may consume its site's work and report for its site, and nothing of another site", async (t) => {
  const prefix = 'sprout';
  const [siteA, siteB] = [randomUUID(), randomUUID()];
  const server = await startNatsServer({
    users: [
      { user: 'control-plane', password: 'control-secret' },
      { user: `agent-${siteA}`, password: 'agent-a-secret', permissions: agentPermissions(prefix, siteA) },
    ],
  });
  const sides: (TransportProvider | AgentTransport)[] = [];
  t.teardown(async () => {
    for (const side of sides.reverse()) await side.close();
    await server.stop();
  });
  const config = pluginConfig({ prefix, ackWaitMs: 1_000, retryDelayMs: 200 });
  const control = await controlSide(`nats://control-plane:control-secret@127.0.0.1:${server.port}`, config);
  sides.push(control);
  const reports: AgentReport[] = [];
  await control.onReport(async (r) => {
    reports.push(r);
  });
  const forA = item(siteA);
  const forB = item(siteB);
  await control.publishWork(forA);
  await control.publishWork(forB);

  const agentUrl = `nats://agent-${siteA}:agent-a-secret@127.0.0.1:${server.port}`;
  const agentId = randomUUID();
  const agent = await agentSide({ ...config, url: agentUrl }, siteA, agentId);
  sides.push(agent);
  const gotA: string[] = [];
  await agent.consumeWork(async (w) => {
    gotA.push(w.id);
  });
  await until("site A's agent gets its work", () => gotA.length > 0);
  await agent.publishReports([report(agentId, siteA, 1)]);
  await until('its report arrives', () => reports.length > 0);
  t.deepEqual(gotA, [forA.id]);
  t.is(reports[0].siteId, siteA);

  // Nor may it listen to every inbox, where other clients' pulls and replies arrive.
  const raw = await connect({ servers: `127.0.0.1:${server.port}`, user: `agent-${siteA}`, pass: 'agent-a-secret' });
  const snoop = raw.subscribe('_INBOX.>');
  const refused = await Promise.race([snoop.closed, new Promise((r) => setTimeout(() => r('still open'), 5_000))]);
  await raw.close();
  t.regex(String(refused), /permission/i);

  // The same credentials posing as site B's agent: no report gets in, no work comes out.
  const logs = memoryLogger();
  const impostor = await agentSide({ ...config, url: agentUrl }, siteB, agentId, logs);
  sides.push(impostor);
  const gotB: string[] = [];
  await impostor.consumeWork(async (w) => {
    gotB.push(w.id);
  });
  await t.throwsAsync(impostor.publishReports([report(agentId, siteB, 2)]), { message: /not stored/ });
  await until('consuming as site B is refused', () => logs.entries.some((e) => e.level === 'warn'));
  await new Promise((r) => setTimeout(r, 1_500));
  t.deepEqual(gotB, []);
  t.deepEqual(
    reports.map((r) => r.sequence),
    [1],
  );
});
