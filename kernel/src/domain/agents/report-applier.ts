/**
 * Applies agents' reports to workflows, each exactly once: a report whose sequence the
 * agent already had applied is a redelivery and changes nothing. Reports about a work
 * item move its workflow step (started, log, succeeded, failed); other reports become
 * audit records of the agent.
 */
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { AgentReport } from '../../capabilities/transport.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { WorkflowEngine } from '../workflows/engine.ts';
import { outboxIdOf } from '../workflows/outbox-dispatcher.ts';

export class ReportApplier {
  constructor(private readonly deps: { db: Knex; engine: () => WorkflowEngine; audit: AuditLog; logger: Logger }) {}

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
      case 'task.succeeded':
        if (stepId) await engine.siteStepFinished(stepId, { ok: true, result: (payload.result as Record<string, unknown>) ?? {}, log });
        return;
      case 'task.failed':
        if (stepId) await engine.siteStepFinished(stepId, { ok: false, error: String(payload.error ?? 'the agent reported a failure without a message'), log });
        return;
      default:
        await this.deps.audit.record({ actor: `agent:${report.agentId}`, action: `agent.${report.kind}`, targetType: 'site', targetId: report.siteId, outcome: 'success', details: payload });
    }
  }

  private async stepOf(workItemId: string | null | undefined): Promise<string | null> {
    const outboxId = workItemId ? outboxIdOf(workItemId) : null;
    if (outboxId === null) return null;
    const row = await this.deps.db('outbox').where({ id: outboxId }).first('step_id');
    return row?.step_id ?? null;
  }
}
