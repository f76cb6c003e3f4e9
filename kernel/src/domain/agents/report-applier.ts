/**
 * Applies agents' reports to workflows, each exactly once: a report whose sequence the
 * agent already had applied is a redelivery and changes nothing. Reports about a work
 * item move its workflow step (started, log, succeeded, failed); other reports become
 * audit records of the agent.
 */
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { refusalRepeat } from './refusal-repeat.ts';
import type { AgentReport } from '../../capabilities/transport.ts';
import type { HardwareTestProvider, HardwareTestResult } from '../../capabilities/hwtest.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { WorkflowEngine } from '../workflows/engine.ts';
import { outboxIdOf } from '../workflows/outbox-dispatcher.ts';

/** Work items whose step is remembered. */
const rememberedItems = 20_000;

const logOf = (report: AgentReport): string[] => (Array.isArray(report.payload?.log) ? (report.payload.log as unknown[]).map(String) : []);

export class ReportApplier {
  private readonly stepOfItem = new Map<number, string | null>();

  constructor(private readonly deps: { db: Knex; engine: () => WorkflowEngine; audit: AuditLog; logger: Logger; hwtests: () => Promise<HardwareTestProvider[]> }) {}

  /**
   * Applies reports in order, as `apply` would one by one, in one transaction: each agent
   * is looked up once and its last applied sequence written once, and a step's log lines
   * are appended together (before any other report about that step, so its order holds).
   * A batch that fails changes nothing, and is handed over again.
   */
  async applyMany(reports: AgentReport[]): Promise<void> {
    await this.deps.db.transaction(async (trx) => {
      const agents = new Map<string, { siteId: string; last: number } | null>();
      const logs = new Map<string, string[]>();
      const flushLogs = async (stepId?: string | null) => {
        const due = stepId === undefined ? [...logs.keys()] : stepId && logs.has(stepId) ? [stepId] : [];
        for (const id of due) {
          await this.deps.engine().siteStepLog(id, logs.get(id)!, trx);
          logs.delete(id);
        }
      };
      for (const report of reports) {
        if (!agents.has(report.agentId)) {
          const row = await trx('agents').where({ id: report.agentId }).first('site_id', 'last_report_sequence');
          agents.set(report.agentId, row ? { siteId: row.site_id, last: Number(row.last_report_sequence) } : null);
        }
        const agent = agents.get(report.agentId);
        if (!agent || agent.siteId !== report.siteId) {
          this.deps.logger.warn({ agent: report.agentId, sequence: report.sequence }, 'report from an unknown agent dropped');
          continue;
        }
        if (report.sequence <= agent.last) continue;
        agent.last = report.sequence;
        const stepId = await this.stepOf(report.workItemId, trx);
        if (report.kind === 'task.log' && stepId) {
          logs.set(stepId, [...(logs.get(stepId) ?? []), ...logOf(report)]);
          continue;
        }
        await flushLogs(stepId);
        await this.applyKind(report, stepId, trx);
      }
      await flushLogs();
      for (const [agentId, agent] of agents) {
        if (agent) await trx('agents').where({ id: agentId }).where('last_report_sequence', '<', agent.last).update({ last_report_sequence: agent.last });
      }
    });
  }

  async apply(report: AgentReport): Promise<'applied' | 'duplicate' | 'unknown-agent'> {
    const { db } = this.deps;
    const agent = await db('agents').where({ id: report.agentId }).first();
    if (!agent || agent.site_id !== report.siteId) {
      this.deps.logger.warn({ agent: report.agentId, sequence: report.sequence }, 'report from an unknown agent dropped');
      return 'unknown-agent';
    }
    if (report.sequence <= Number(agent.last_report_sequence)) return 'duplicate';
    await this.applyKind(report, await this.stepOf(report.workItemId, db), db);
    await db('agents').where({ id: report.agentId }).where('last_report_sequence', '<', report.sequence).update({ last_report_sequence: report.sequence });
    return 'applied';
  }

  private async applyKind(report: AgentReport, stepId: string | null, db: Knex): Promise<void> {
    const payload = report.payload ?? {};
    const log = logOf(report);
    const engine = this.deps.engine();
    switch (report.kind) {
      case 'task.started':
        if (stepId) await engine.siteStepStarted(stepId, log, db);
        return;
      case 'task.log':
        if (stepId) await engine.siteStepLog(stepId, log, db);
        return;
      case 'task.succeeded': {
        if (!stepId) return;
        const result = (payload.result as Record<string, unknown>) ?? {};
        const failedTests = await this.failedHardwareTests(stepId, db);
        if (failedTests.length > 0) {
          await engine.siteStepFinished(stepId, { ok: false, error: `hardware tests failed: ${failedTests.join(', ')}`, log, failAction: 'test_failed', reason: { failedTests } }, db);
          return;
        }
        await this.recordFacts(stepId, result, db);
        await engine.siteStepFinished(stepId, { ok: true, result, log }, db);
        return;
      }
      case 'machine.hwtest-result':
        if (stepId) await this.recordHardwareTest(stepId, payload, db);
        return;
      case 'task.failed': {
        if (!stepId) return;
        const failedTests = Array.isArray(payload.failedTests) ? payload.failedTests.map(String) : [];
        await engine.siteStepFinished(stepId, {
          ok: false,
          error: String(payload.error ?? 'the agent reported a failure without a message'),
          log,
          ...(failedTests.length ? { failAction: 'test_failed' as const, reason: { failedTests } } : {}),
        }, db);
        return;
      }
      case 'dhcp.unknown-mac':
        await db('discovered_macs')
          .insert({ site_id: report.siteId, mac: String(payload.mac), network_id: (payload.networkId as string) ?? null, offered: (payload.offered as string) ?? null })
          .onConflict(['site_id', 'mac'])
          .merge({ network_id: (payload.networkId as string) ?? null, offered: (payload.offered as string) ?? null, last_seen_at: db.fn.now(), times_seen: db.raw('discovered_macs.times_seen + 1') });
        return;
      case 'dhcp.lease':
        await db('dhcp_leases')
          .insert({ site_id: report.siteId, mac: String(payload.mac), address: String(payload.address), state: String(payload.state ?? 'bound'), expires_at: payload.expiresAt ? new Date(String(payload.expiresAt)) : null, client_uuid: (payload.uuid as string) ?? null })
          .onConflict(['site_id', 'mac'])
          .merge();
        return;
      default: {
        const entry = { actor: `agent:${report.agentId}`, action: `agent.${report.kind}`, targetType: 'site', targetId: report.siteId, outcome: 'success' as const, details: payload };
        const repeat = refusalRepeat(report);
        if (repeat) await this.deps.audit.recordRepeated(entry, repeat, db);
        else await this.deps.audit.record(entry, db);
      }
    }
  }

  /** Stores a machine's hardware test result, judged against its expected values by the hwtest providers. */
  private async recordHardwareTest(stepId: string, payload: Record<string, unknown>, db: Knex): Promise<void> {
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

  private async failedHardwareTests(stepId: string, db: Knex): Promise<string[]> {
    const step = await db('workflow_steps').where({ id: stepId }).first('workflow_id');
    if (!step) return [];
    const rows = await db('hardware_test_results').where({ workflow_id: step.workflow_id, status: 'failed' }).select('name');
    return [...new Set(rows.map((r) => r.name as string))];
  }

  /** Hardware facts a commissioning machine reported become the machine's. */
  private async recordFacts(stepId: string, result: Record<string, unknown>, db: Knex): Promise<void> {
    if (!result.facts || typeof result.facts !== 'object') return;
    const step = await db('workflow_steps').where({ id: stepId }).first('workflow_id');
    const workflow = step ? await db('workflows').where({ id: step.workflow_id }).first('machine_id') : undefined;
    if (workflow?.machine_id) await db('machines').where({ id: workflow.machine_id }).update({ hardware: JSON.stringify(result.facts) });
  }

  /** The workflow step a work item was dispatched for; it never changes, so it is remembered. */
  private async stepOf(workItemId: string | null | undefined, db: Knex): Promise<string | null> {
    const outboxId = workItemId ? outboxIdOf(workItemId) : null;
    if (outboxId === null) return null;
    const known = this.stepOfItem.get(outboxId);
    if (known !== undefined) return known;
    const row = await db('outbox').where({ id: outboxId }).first('step_id');
    const stepId: string | null = row?.step_id ?? null;
    if (row) {
      if (this.stepOfItem.size >= rememberedItems) this.stepOfItem.delete(this.stepOfItem.keys().next().value!);
      this.stepOfItem.set(outboxId, stepId);
    }
    return stepId;
  }
}
