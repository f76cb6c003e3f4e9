/**
 * Applies agents' reports to workflows, each exactly once: a report whose sequence the
 * agent already had applied is a redelivery and changes nothing. Reports about a work
 * item move its workflow step (started, log, succeeded, failed); other reports become
 * audit records of the agent.
 */
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { AgentReport } from '../../capabilities/transport.ts';
import type { HardwareTestProvider, HardwareTestResult } from '../../capabilities/hwtest.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { WorkflowEngine } from '../workflows/engine.ts';
import { outboxIdOf } from '../workflows/outbox-dispatcher.ts';

export class ReportApplier {
  constructor(private readonly deps: { db: Knex; engine: () => WorkflowEngine; audit: AuditLog; logger: Logger; hwtests: () => Promise<HardwareTestProvider[]> }) {}

  async apply(report: AgentReport): Promise<'applied' | 'duplicate' | 'unknown-agent'> {
    const { db } = this.deps;
    const agent = await db('agents').where({ id: report.agentId }).first();
    if (!agent || agent.site_id !== report.siteId) {
      this.deps.logger.warn({ agent: report.agentId, sequence: report.sequence }, 'report from an unknown agent dropped');
      return 'unknown-agent';
    }
    if (report.sequence <= Number(agent.last_report_sequence)) return 'duplicate';
    await this.applyKind(report);
    await db('agents').where({ id: report.agentId }).where('last_report_sequence', '<', report.sequence).update({ last_report_sequence: report.sequence });
    return 'applied';
  }

  private async applyKind(report: AgentReport): Promise<void> {
    const stepId = await this.stepOf(report.workItemId);
    const payload = report.payload ?? {};
    const log = Array.isArray(payload.log) ? (payload.log as string[]).map(String) : [];
    const engine = this.deps.engine();
    switch (report.kind) {
      case 'task.started':
        if (stepId) await engine.siteStepStarted(stepId, log);
        return;
      case 'task.log':
        if (stepId) await engine.siteStepLog(stepId, log);
        return;
      case 'task.succeeded': {
        if (!stepId) return;
        const result = (payload.result as Record<string, unknown>) ?? {};
        const failedTests = await this.failedHardwareTests(stepId);
        if (failedTests.length > 0) {
          await engine.siteStepFinished(stepId, { ok: false, error: `hardware tests failed: ${failedTests.join(', ')}`, log, failAction: 'test_failed', reason: { failedTests } });
          return;
        }
        await this.recordFacts(stepId, result);
        await engine.siteStepFinished(stepId, { ok: true, result, log });
        return;
      }
      case 'machine.hwtest-result':
        if (stepId) await this.recordHardwareTest(stepId, payload);
        return;
      case 'task.failed': {
        if (!stepId) return;
        const failedTests = Array.isArray(payload.failedTests) ? payload.failedTests.map(String) : [];
        await engine.siteStepFinished(stepId, {
          ok: false,
          error: String(payload.error ?? 'the agent reported a failure without a message'),
          log,
          ...(failedTests.length ? { failAction: 'test_failed' as const, reason: { failedTests } } : {}),
        });
        return;
      }
      case 'dhcp.unknown-mac':
        await this.deps.db('discovered_macs')
          .insert({ site_id: report.siteId, mac: String(payload.mac), network_id: (payload.networkId as string) ?? null, offered: (payload.offered as string) ?? null })
          .onConflict(['site_id', 'mac'])
          .merge({ network_id: (payload.networkId as string) ?? null, offered: (payload.offered as string) ?? null, last_seen_at: this.deps.db.fn.now(), times_seen: this.deps.db.raw('discovered_macs.times_seen + 1') });
        return;
      case 'dhcp.lease':
        await this.deps.db('dhcp_leases')
          .insert({ site_id: report.siteId, mac: String(payload.mac), address: String(payload.address), state: String(payload.state ?? 'bound'), expires_at: payload.expiresAt ? new Date(String(payload.expiresAt)) : null, client_uuid: (payload.uuid as string) ?? null })
          .onConflict(['site_id', 'mac'])
          .merge();
        return;
      default:
        await this.deps.audit.record({ actor: `agent:${report.agentId}`, action: `agent.${report.kind}`, targetType: 'site', targetId: report.siteId, outcome: 'success', details: payload });
    }
  }

  /** Stores a machine's hardware test result, judged against its expected values by the hwtest providers. */
  private async recordHardwareTest(stepId: string, payload: Record<string, unknown>): Promise<void> {
    const { db } = this.deps;
    const step = await db('workflow_steps').where({ id: stepId }).first('workflow_id');
    const workflow = step ? await db('workflows').where({ id: step.workflow_id }).first('id', 'machine_id') : undefined;
    if (!workflow?.machine_id) return;
    const machine = await db('machines').where({ id: workflow.machine_id }).first('expected');
    let result: HardwareTestResult = {
      name: String(payload.name),
      status: payload.status as HardwareTestResult['status'],
      durationMs: Number(payload.durationMs ?? 0),
      output: String(payload.output ?? ''),
      facts: (payload.facts as Record<string, unknown>) ?? undefined,
    };
    for (const provider of await this.deps.hwtests()) result = provider.judge(result, machine?.expected ?? {});
    await db('hardware_test_results').insert({
      machine_id: workflow.machine_id,
      workflow_id: workflow.id,
      name: result.name,
      status: result.status,
      duration_ms: result.durationMs,
      output: result.output,
      facts: result.facts ? JSON.stringify(result.facts) : null,
    });
  }

  private async failedHardwareTests(stepId: string): Promise<string[]> {
    const step = await this.deps.db('workflow_steps').where({ id: stepId }).first('workflow_id');
    if (!step) return [];
    const rows = await this.deps.db('hardware_test_results').where({ workflow_id: step.workflow_id, status: 'failed' }).select('name');
    return [...new Set(rows.map((r) => r.name as string))];
  }

  /** Hardware facts a commissioning machine reported become the machine's. */
  private async recordFacts(stepId: string, result: Record<string, unknown>): Promise<void> {
    if (!result.facts || typeof result.facts !== 'object') return;
    const step = await this.deps.db('workflow_steps').where({ id: stepId }).first('workflow_id');
    const workflow = step ? await this.deps.db('workflows').where({ id: step.workflow_id }).first('machine_id') : undefined;
    if (workflow?.machine_id) await this.deps.db('machines').where({ id: workflow.machine_id }).update({ hardware: JSON.stringify(result.facts) });
  }

  private async stepOf(workItemId: string | null | undefined): Promise<string | null> {
    const outboxId = workItemId ? outboxIdOf(workItemId) : null;
    if (outboxId === null) return null;
    const row = await this.deps.db('outbox').where({ id: outboxId }).first('step_id');
    return row?.step_id ?? null;
  }
}
