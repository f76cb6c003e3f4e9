/**
 * One site's agent cannot touch another site's work. Site A's agent, with its own real
 * credentials, reports on site B's in-flight work: over HTTP with its agent credential,
 * and over NATS with a NATS user holding exactly `agentPermissions(prefix, siteA)` as
 * docs/nats.md configures it. Every forged report is refused and audited as a denial;
 * site B's step and machine do not move, B's agent's sequence is untouched, and the
 * reporting agent's later, honest reports still flow.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { AgentReport, AgentTransport } from '@sprout/kernel';
import { agentPermissions } from '@sprout/plugin-transport-nats';
import { startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { createMachine, siteWithNetwork, waitForWorkflow } from '@sprout/test-support/control-plane.ts';
import { until } from '@sprout/test-support/until.ts';
import { startNatsServer, type NatsServerProcess } from '@sprout/test-support/nats-server-process.ts';
import { agentSide, pluginConfig } from '@sprout/test-support/nats-world.ts';

interface Registered {
  agentId: string;
  siteId: string;
  credential: string;
}

async function register(h: Harness, joinToken: string, hostname: string): Promise<Registered> {
  const res = await h.request({ method: 'POST', url: '/v1/agents/register', token: null, body: { joinToken, hostname, version: '0.1.0', capabilities: [] } });
  if (res.status !== 201) throw new Error(`register: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Site B's machine commissioning, with its site step handed to the transport; returns the step's work item id. */
async function commissioningAtB(h: Harness): Promise<{ machine: any; workflowId: string; workItemId: string }> {
  const machine = await createMachine(h, 'site-b', 'victim-1');
  const started = await h.request({ method: 'POST', url: `/v1/machines/${machine.id}/commission`, body: { hwtest: false } });
  if (started.status !== 202) throw new Error(`commission: ${JSON.stringify(started.body)}`);
  const workflowId = started.body.workflow?.id ?? started.body.id;
  await waitForWorkflow(h, workflowId, (wf) => wf.steps.some((s: any) => s.kind === 'site' && s.state === 'dispatched'));
  await h.kernel.services.dispatcher.drain();
  const row = await h.kernel.store.db('outbox').where({ workflow_id: workflowId }).whereNotNull('step_id').orderBy('id', 'desc').first();
  return { machine, workflowId, workItemId: `wi-${row.id}` };
}

function forged(as: { agentId: string; siteId: string }, sequence: number, kind: string, workItemId: string, payload: Record<string, unknown>): AgentReport {
  return { agentId: as.agentId, siteId: as.siteId, sequence, kind, workItemId, at: new Date().toISOString(), payload };
}

const inventedFacts = { result: { event: 'commission-complete', facts: { memoryMiB: 999999, cpus: 512 } }, log: ['forged'] };

async function assertUntouched(t: any, h: Harness, machineId: string, workflowId: string, agentB: Registered) {
  const machine = await h.request({ url: `/v1/machines/${machineId}` });
  t.is(machine.body.status, 'commissioning', "site B's machine did not move");
  t.notRegex(JSON.stringify(machine.body.hardware ?? {}), /999999/, 'no invented hardware facts');
  const wf = await h.kernel.services.workflows.get(workflowId);
  t.is(wf!.state, 'dispatched');
  t.true(
    wf!.steps.some((s: any) => s.kind === 'site' && s.state === 'dispatched'),
    "site B's step is still waiting for site B's agent",
  );
  const b = await h.kernel.store.db('agents').where({ id: agentB.agentId }).first('last_report_sequence', 'refused_reports');
  t.is(Number(b.last_report_sequence), 0, "site B's agent's sequence was not moved by reports posing as it");
  t.is(Number(b.refused_reports), 0, 'nor is it blamed for them');
}

test('http: an agent posting reports on another site’s work items is refused and audited; its own reports flow on', async (t) => {
  const h = await startHarness('pglite', { yaml: 'plugins:\n  transport-http: { pollIntervalMs: 50 }\n' });
  t.teardown(() => h.stop());
  const a = await siteWithNetwork(h, 'site-a', 40);
  const b = await siteWithNetwork(h, 'site-b', 41);
  const agentA = await register(h, a.joinToken, 'agent-a');
  const agentB = await register(h, b.joinToken, 'agent-b');
  const { machine, workflowId, workItemId } = await commissioningAtB(h);

  const post = (reports: AgentReport[]) =>
    h.request({ method: 'POST', url: `/v1/agents/${agentA.agentId}/reports`, token: agentA.credential, body: { reports } });
  // Its own identity, another site's work item: accepted for delivery, refused when applied.
  const sent = await post([
    forged(agentA, 1, 'task.started', workItemId, { log: ['forged start'] }),
    forged(agentA, 2, 'machine.hwtest-result', workItemId, { name: 'cpu', status: 'failed' }),
    forged(agentA, 3, 'task.succeeded', workItemId, inventedFacts),
    forged(agentA, 4, 'task.failed', workItemId, { error: 'forged failure' }),
  ]);
  t.is(sent.status, 200);
  // Posing as site B's agent is refused at the door, as before.
  const posing = await post([forged(agentB, 5, 'task.succeeded', workItemId, inventedFacts)]);
  t.is(posing.status, 403);
  t.is(posing.body.code, 'SPROUT_ERR_FORBIDDEN');
  // A malformed report is refused when it arrives, naming the field; nothing of its batch is kept.
  const malformed = await post([
    forged(agentA, 5, 'dhcp.unknown-mac', '', { mac: 'de:ad:be:ef:40:02', networkId: null, offered: null }),
    forged(agentA, 6, 'dhcp.lease', '', { mac: 'de:ad:be:ef:40:02', address: '198.18.40.20', state: 'bound', expiresAt: 'not-a-date' }),
  ]);
  t.is(malformed.status, 400);
  t.is(malformed.body.code, 'SPROUT_ERR_VALIDATION');
  t.deepEqual(malformed.body.errors, [{ field: 'body/reports/1/payload/expiresAt', message: 'must match format "date-time"' }]);
  // Its honest report after the forged and malformed ones is applied: nothing is wedged.
  t.is((await post([forged(agentA, 6, 'dhcp.unknown-mac', '', { mac: 'de:ad:be:ef:40:01', networkId: null, offered: null })])).status, 200);
  await until('the honest report is applied', async () => (await h.request({ url: '/v1/sites/site-a/discovered-macs' })).body.items.length === 1);

  await assertUntouched(t, h, machine.id, workflowId, agentB);
  const denials = await h.kernel.store.db('audit_records').where({ action: 'agent.report.refused', outcome: 'denied' });
  const refused = denials.flatMap((d: any) => (typeof d.details === 'string' ? JSON.parse(d.details) : d.details).reports);
  t.deepEqual(refused.map((r: any) => r.sequence).sort(), [1, 2, 3, 4]);
  t.true(refused.every((r: any) => /belongs to another site/.test(r.reason)));
  t.true(denials.every((d: any) => d.actor === `agent:${agentA.agentId}`));
  t.is(
    await h.kernel.store
      .db('hardware_test_results')
      .count({ n: '*' })
      .first()
      .then((r: any) => Number(r.n)),
    0,
  );
  const siteA = await h.request({ url: '/v1/sites/site-a' });
  t.like(siteA.body.agents[0].reports, { refused: 4, deadLettered: 0 });
  t.regex(siteA.body.agents[0].reports.lastProblem, /another site/);
  t.is(Number((await h.kernel.store.db('agents').where({ id: agentA.agentId }).first()).last_report_sequence), 6);
});

test('nats: with per-site NATS users, a report on site A’s own subject naming site B or its work is refused and audited', async (t) => {
  const prefix = `x${randomUUID().slice(0, 8)}`;
  const nats: NatsServerProcess = await startNatsServer({ users: [{ user: 'control-plane', password: 'cp-secret' }] });
  t.teardown(() => nats.stop());
  const h = await startHarness('postgres', {
    env: { SPROUT_NATS_URL: `nats://control-plane:cp-secret@127.0.0.1:${nats.port}` },
    yaml: `plugins:\n  transport-nats: { prefix: ${prefix}, ackWaitMs: 2000, retryDelayMs: 200 }\n`,
  });
  t.teardown(() => h.stop());
  t.is(h.kernel.activeProvider('transport'), 'transport-nats');
  const a = await siteWithNetwork(h, 'site-a', 42);
  const b = await siteWithNetwork(h, 'site-b', 43);
  const agentA = await register(h, a.joinToken, 'agent-a');
  const agentB = await register(h, b.joinToken, 'agent-b');
  // Site A's agent gets a NATS user of its own, with exactly the permissions docs/nats.md lists.
  await nats.reload({
    users: [
      { user: 'control-plane', password: 'cp-secret' },
      { user: `site-${agentA.siteId}`, password: 'site-a-secret', permissions: agentPermissions(prefix, agentA.siteId) },
    ],
  });
  const { machine, workflowId, workItemId } = await commissioningAtB(h);

  const settings = { ...pluginConfig({ prefix, ackWaitMs: 2000 }), url: `nats://site-${agentA.siteId}:site-a-secret@127.0.0.1:${nats.port}` };
  const attacker: AgentTransport = await agentSide(settings, agentA.siteId, agentA.agentId);
  t.teardown(() => attacker.close());
  await attacker.publishReports([
    // Posing as site B's agent, on site A's subject (the only one its user may publish on).
    forged(agentB, 1_000_000, 'task.succeeded', workItemId, inventedFacts),
    // As itself, naming site B's work item.
    forged(agentA, 1, 'task.failed', workItemId, { error: 'forged failure' }),
    forged(agentA, 2, 'task.succeeded', workItemId, inventedFacts),
    // A malformed one, which a broker cannot refuse at the door: it is dead-lettered with its reason.
    forged(agentA, 3, 'dhcp.lease', '', { mac: 'de:ad:be:ef:42:02', address: '198.18.42.20', state: 'bound', expiresAt: 'not-a-date' }),
    // And an honest report after them.
    forged(agentA, 4, 'dhcp.unknown-mac', '', { mac: 'de:ad:be:ef:42:01', networkId: null, offered: null }),
  ]);
  await until('the honest report is applied', async () => (await h.request({ url: '/v1/sites/site-a/discovered-macs' })).body.items.length === 1);

  await assertUntouched(t, h, machine.id, workflowId, agentB);
  const denials = await h.kernel.store.db('audit_records').where({ action: 'agent.report.refused', outcome: 'denied' });
  const refused = denials.flatMap((d: any) => d.details.reports);
  t.is(refused.length, 3);
  t.regex(refused.find((r: any) => r.sequence === 1_000_000).reason, new RegExp(`arrived on the channel of site ${agentA.siteId}`));
  t.true(refused.filter((r: any) => r.sequence !== 1_000_000).every((r: any) => /belongs to another site/.test(r.reason)));
  t.true(
    denials.every((d: any) => d.target_id === agentA.siteId),
    'the denial names the site whose channel carried it',
  );
  const [dead] = await h.kernel.store.db('report_dead_letters').where({ agent_id: agentA.agentId, sequence: 3 });
  t.regex(dead.reason, /^dead-lettered: \/payload\/expiresAt must match format "date-time"/);
  t.is((await h.request({ url: '/v1/sites/site-a/leases' })).body.items.length, 0);
  t.like((await h.request({ url: '/v1/sites/site-a' })).body.agents[0].reports, { refused: 2, deadLettered: 1 });
});
