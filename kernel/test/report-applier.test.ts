/**
 * The report applier, driven directly with agents' reports: a redelivered report changes
 * nothing; a report about an unknown work item or a step that already ended changes
 * nothing; a report from another site's agent about this site's work is refused, audited
 * as a denial, and leaves the step where it was.
 */
import test from 'ava';
import { startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { createMachine, siteWithNetwork, waitForWorkflow } from '@sprout/test-support/control-plane.ts';
import type { AgentReport } from '../src/capabilities/transport.ts';

let h: Harness;
const agents: Record<string, { agentId: string; siteId: string }> = {};
let workflowId: string;
let workItemId: string;
let sequence = 0;

test.before(async () => {
  h = await startHarness('pglite');
  for (const [name, octet] of [
    ['rep-a', 80],
    ['rep-b', 81],
  ] as const) {
    const { joinToken } = await siteWithNetwork(h, name, octet);
    const res = await h.request({
      method: 'POST',
      url: '/v1/agents/register',
      token: null,
      body: { joinToken, hostname: `agent-${name}`, version: '0.1.0', capabilities: [] },
    });
    if (res.status !== 201) throw new Error(JSON.stringify(res.body));
    agents[name] = { agentId: res.body.agentId, siteId: res.body.siteId };
  }
  await createMachine(h, 'rep-a', 'reported-1');
  workflowId = (await h.request({ method: 'POST', url: '/v1/machines/reported-1/commission', body: { hwtest: false } })).body.id;
  await waitForWorkflow(h, workflowId, (w) => w.steps[0].state === 'dispatched');
  await h.kernel.services.dispatcher.drain();
  const row = await h.kernel.store.db('outbox').where({ workflow_id: workflowId }).first('id');
  workItemId = `wi-${row.id}`;
});
test.after.always(() => h?.stop());

function report(from: { agentId: string; siteId: string }, kind: string, payload: Record<string, unknown>, item = workItemId, seq = ++sequence): AgentReport {
  return { agentId: from.agentId, siteId: from.siteId, sequence: seq, kind, workItemId: item, at: new Date().toISOString(), payload };
}

const checkBmc = async () => (await h.kernel.services.workflows.get(workflowId)).steps[0];

test.serial('a report delivered twice is applied once', async (t) => {
  const started = report(agents['rep-a'], 'task.started', { log: ['checking the BMC'] });
  t.is(await h.kernel.services.reports.apply(started), 'applied');
  t.is(await h.kernel.services.reports.apply(started), 'duplicate');
  const step = await checkBmc();
  t.is(step.state, 'running');
  t.deepEqual(
    step.logTail.filter((l: string) => l === 'checking the BMC'),
    ['checking the BMC'],
  );
});

test.serial('machineHeardAt keeps the latest time the machine spoke, whatever order the reports arrive in', async (t) => {
  t.is((await checkBmc()).machineHeardAt, null, "an agent's own log line is not the machine speaking");
  const later = '2026-12-06T10:00:05.000Z';
  const earlier = '2026-12-06T10:00:01.000Z';
  // one batch: the later stamp first, then an earlier one (a journaled report arriving late)
  t.deepEqual(
    await h.kernel.services.reports.applyMany([
      report(agents['rep-a'], 'task.log', { log: ['installer: writing'], machineHeardAt: later }),
      report(agents['rep-a'], 'task.log', { log: ['installer: late'], machineHeardAt: earlier }),
    ]),
    ['applied', 'applied'],
  );
  t.is((await checkBmc()).machineHeardAt, later);
  t.is(await h.kernel.services.reports.apply(report(agents['rep-a'], 'task.log', { log: ['late again'], machineHeardAt: earlier })), 'applied');
  t.is((await checkBmc()).machineHeardAt, later);
  t.is(await h.kernel.services.reports.apply(report(agents['rep-a'], 'task.log', { log: ['not a time'], machineHeardAt: 'yesterday-ish' })), 'applied');
  t.is((await checkBmc()).machineHeardAt, later);
});

test.serial("a report from another site's agent about this site's work is refused, audited, and moves nothing", async (t) => {
  const forged = report(agents['rep-b'], 'task.succeeded', { result: { facts: { cpus: 512 } }, log: ['forged'] }, workItemId, 1);
  t.is(await h.kernel.services.reports.apply(forged), 'refused');
  const step = await checkBmc();
  t.is(step.state, 'running');
  t.false(step.logTail.includes('forged'));
  t.is((await h.request({ url: '/v1/machines/reported-1' })).body.status, 'commissioning');
  const denial = await h.kernel.store
    .db('audit_records')
    .where({ action: 'agent.report.refused', outcome: 'denied', actor: `agent:${agents['rep-b'].agentId}` })
    .first();
  t.truthy(denial);
  const details = typeof denial.details === 'string' ? JSON.parse(denial.details) : denial.details;
  t.is(details.reports[0].reason, `work item ${workItemId} belongs to another site`);
  const siteB = (await h.request({ url: '/v1/sites/rep-b' })).body;
  t.like(siteB.agents[0].reports, { refused: 1 });
});

test.serial('a report about an unknown work item changes nothing', async (t) => {
  const before = await h.kernel.services.workflows.get(workflowId);
  t.is(await h.kernel.services.reports.apply(report(agents['rep-a'], 'task.failed', { error: 'no such work' }, 'wi-999999999')), 'applied');
  const after = await h.kernel.services.workflows.get(workflowId);
  t.is(after.state, before.state);
  t.deepEqual(
    after.steps.map((s: any) => [s.state, s.error]),
    before.steps.map((s: any) => [s.state, s.error]),
  );
});

test.serial('a report about a step that already ended changes nothing', async (t) => {
  t.is(await h.kernel.services.reports.apply(report(agents['rep-a'], 'task.failed', { error: 'BMC refused the password' })), 'applied');
  const failed = await waitForWorkflow(h, workflowId, (w) => w.state === 'failed');
  t.like(failed.steps[0], { state: 'failed', error: 'BMC refused the password' });
  // A late success for the same work item: the step, the workflow and the machine stay as they ended.
  t.is(await h.kernel.services.reports.apply(report(agents['rep-a'], 'task.succeeded', { result: {}, log: ['late success'] })), 'applied');
  const after = await h.kernel.services.workflows.get(workflowId);
  t.is(after.state, 'failed');
  t.like(after.steps[0], { state: 'failed', error: 'BMC refused the password' });
  t.false(after.steps[0].logTail.includes('late success'));
  const machine = (await h.request({ url: '/v1/machines/reported-1' })).body;
  t.is(machine.status, 'failed_commissioning');
  t.is(machine.statusReason.message, 'commission failed in step check-bmc: BMC refused the password');
});
