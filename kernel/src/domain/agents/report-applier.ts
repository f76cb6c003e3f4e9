/**
 * Applies agents' reports to workflows, each exactly once: a report whose sequence the
 * agent already had applied is a redelivery and changes nothing. Reports about a work
 * item move its workflow step (started, log, succeeded, failed); other reports become
 * audit records of the agent.
 *
 * An agent speaks only for its own site: a report that arrived on another site's
 * channel, names an agent of another site, or names another site's work item is refused
 * and audited as a denial. A malformed report, or one that keeps failing when applied,
 * is set aside in `report_dead_letters` with its reason. Either way the agent's sequence
 * moves past it, so its later reports flow on.
 */
import { scrubCredentials } from '../machines/bmc-credentials.ts';
import { powerCredentialKeys } from '../../capabilities/power.ts';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { refusalRepeat } from './refusal-repeat.ts';
import type { AgentReport } from '../../capabilities/transport.ts';
import type { HardwareTestProvider, HardwareTestResult } from '../../capabilities/hwtest.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import { databaseUnavailable } from '../../api/problem.ts';
import type { WorkflowEngine } from '../workflows/engine.ts';
import { outboxIdOf } from '../workflows/outbox-dispatcher.ts';
import { reportProblem } from './report-schema.ts';
import type { PowerService } from '../machines/power-service.ts';
import type { PowerState } from '../../capabilities/power.ts';
import type { SiteImages } from '../sites/site-images.ts';

/** Work items whose step and site are remembered. */
const rememberedItems = 20_000;
/** How often a report may fail when applied (the database answering) before it is set aside. */
export const maxApplyAttempts = 5;
/** Reports listed in one audit record of refusals; the record counts them all. */
const auditSample = 20;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const logOf = (report: AgentReport): string[] => (Array.isArray(report.payload?.log) ? (report.payload.log as unknown[]).map(String) : []);

/** What became of a report: applied, already applied before, refused (another site's), or set aside as unusable. */
export type ReportOutcome = 'applied' | 'duplicate' | 'refused' | 'dead-lettered';

interface WorkItemOwner {
  stepId: string | null;
  siteId: string;
  workflowId: string | null;
  /** The item carried opened BMC credentials (a power step's): they are scrubbed when it settles. */
  credentials: boolean;
}

/** A report not applied: refused (it spoke for another site) or dead-lettered (unusable). */
interface SetAside {
  report: AgentReport;
  outcome: 'refused' | 'dead-lettered';
  reason: string;
}

interface AgentRow {
  siteId: string;
  last: number;
}

export class ReportApplier {
  private readonly itemOwners = new Map<number, WorkItemOwner>();
  private readonly failures = new Map<string, number>();
  private readonly siteNetworks = new Set<string>();

  constructor(
    private readonly deps: {
      db: Knex;
      engine: () => WorkflowEngine;
      power: () => PowerService;
      images: () => SiteImages;
      audit: AuditLog;
      logger: Logger;
      hwtests: () => Promise<HardwareTestProvider[]>;
    },
  ) {}

  /**
   * Applies reports in order, as `apply` would one by one, in one transaction: each agent
   * is looked up once and its last applied sequence written once, and a step's log lines
   * are appended together (before any other report about that step, so its order holds).
   * A batch that fails changes nothing, and is handed over again; a single report that
   * failed `maxApplyAttempts` times while the database answered is set aside instead.
   */
  async applyMany(reports: AgentReport[]): Promise<ReportOutcome[]> {
    try {
      return await this.applyInTransaction(reports);
    } catch (err) {
      if (reports.length !== 1 || databaseUnavailable(err)) throw err;
      const report = reports[0];
      const key = `${report.agentId}:${report.sequence}`;
      const failures = (this.failures.get(key) ?? 0) + 1;
      if (failures < maxApplyAttempts) {
        if (this.failures.size >= rememberedItems) this.failures.clear();
        this.failures.set(key, failures);
        throw err;
      }
      this.failures.delete(key);
      // The workflow a work item's report was about, so the line is found with the workflow's others.
      const workflow = report.workItemId ? await this.workflowOf(report.workItemId).catch(() => undefined) : undefined;
      this.deps.logger.error(
        { err, agent: report.agentId, sequence: report.sequence, kind: report.kind, ...(workflow ? { workflow } : {}) },
        `a report failed ${failures} times when applied; set aside in report_dead_letters`,
      );
      await this.deps.db.transaction(async (trx) => {
        const agent = await this.agentOf(report, trx);
        await this.setAside([{ report, outcome: 'dead-lettered', reason: `failed ${failures} times when applied: ${(err as Error).message}` }], trx);
        const fromTheAgent = agent !== null && agent.siteId === report.siteId && (report.channelSiteId === undefined || report.channelSiteId === agent.siteId);
        if (fromTheAgent && agent.last < report.sequence)
          await trx('agents')
            .where({ id: report.agentId })
            .where('last_report_sequence', '<', report.sequence)
            .update({ last_report_sequence: report.sequence });
      });
      return ['dead-lettered'];
    }
  }

  async apply(report: AgentReport): Promise<ReportOutcome> {
    return (await this.applyMany([report]))[0];
  }

  private async applyInTransaction(reports: AgentReport[]): Promise<ReportOutcome[]> {
    return this.deps.db.transaction(async (trx) => {
      const outcomes: ReportOutcome[] = [];
      const agents = new Map<string, AgentRow | null>();
      const logs = new Map<string, string[]>();
      /** The latest `machineHeardAt` of each step's batched log reports. */
      const heard = new Map<string, Date>();
      const setAside: SetAside[] = [];
      const flushLogs = async (stepId?: string | null) => {
        const due = stepId === undefined ? [...logs.keys()] : stepId && logs.has(stepId) ? [stepId] : [];
        for (const id of due) {
          await this.deps.engine().siteStepLog(id, logs.get(id)!, trx);
          logs.delete(id);
          if (heard.has(id)) await this.deps.engine().machineHeard(id, heard.get(id)!, trx);
          heard.delete(id);
        }
      };
      for (const report of reports) {
        if (!agents.has(report.agentId)) agents.set(report.agentId, await this.agentOf(report, trx));
        const agent = agents.get(report.agentId) ?? null;
        // Only the agent itself moves its sequence: a report posing as another site's agent
        // must not make that agent's real reports look like redeliveries.
        const fromTheAgent = agent !== null && agent.siteId === report.siteId && (report.channelSiteId === undefined || report.channelSiteId === agent.siteId);
        if (fromTheAgent && report.sequence <= agent.last) {
          outcomes.push('duplicate');
          continue;
        }
        const problem = reportProblem(report);
        const refusal = problem ? null : await this.refusalOf(report, agent, trx);
        if (fromTheAgent && Number.isSafeInteger(report.sequence)) agent.last = report.sequence;
        if (problem) {
          setAside.push({ report, outcome: 'dead-lettered', reason: `${problem.field} ${problem.message}` });
          outcomes.push('dead-lettered');
          continue;
        }
        if (refusal) {
          setAside.push({ report, outcome: 'refused', reason: refusal });
          outcomes.push('refused');
          continue;
        }
        outcomes.push('applied');
        const owner = await this.ownerOf(report.workItemId, trx);
        const stepId = owner?.stepId ?? null;
        if (report.kind === 'task.log' && stepId) {
          logs.set(stepId, [...(logs.get(stepId) ?? []), ...logOf(report)]);
          const at = machineHeardAt(report);
          if (at && !(heard.get(stepId)! >= at)) heard.set(stepId, at);
          continue;
        }
        await flushLogs(stepId);
        await this.applyKind(report, owner, trx);
      }
      await flushLogs();
      await this.setAside(setAside, trx);
      for (const [agentId, agent] of agents) {
        if (agent) await trx('agents').where({ id: agentId }).where('last_report_sequence', '<', agent.last).update({ last_report_sequence: agent.last });
      }
      return outcomes;
    });
  }

  /** The reporting agent, when its id is one and it exists. */
  private async agentOf(report: AgentReport, db: Knex): Promise<AgentRow | null> {
    if (typeof report.agentId !== 'string' || !uuid.test(report.agentId)) return null;
    // Locked: two deliveries of one agent's reports applied at once (a retried POST while the
    // first still runs, two control planes) take turns, so the sequence check sees the other's.
    // An advisory lock, not the agent's row: its heartbeats update that row, and each waited
    // (holding a pool connection) for as long as a batch of reports took.
    await db.raw(`select pg_advisory_xact_lock(hashtext('sprout.agent-reports'), hashtext(?))`, [report.agentId]);
    const row = await db('agents').where({ id: report.agentId }).first('site_id', 'last_report_sequence');
    return row ? { siteId: row.site_id, last: Number(row.last_report_sequence) } : null;
  }

  /** Why a well-formed report may not be applied: it speaks for a site its sender is not of. */
  private async refusalOf(report: AgentReport, agent: AgentRow | null, db: Knex): Promise<string | null> {
    if (report.channelSiteId !== undefined && report.channelSiteId !== report.siteId) {
      return `the report names site ${report.siteId} but arrived on the channel of site ${report.channelSiteId}`;
    }
    if (!agent) return `agent ${report.agentId} is not registered`;
    if (agent.siteId !== report.siteId) return `agent ${report.agentId} is not an agent of site ${report.siteId}`;
    const owner = await this.ownerOf(report.workItemId, db);
    if (owner && owner.siteId !== report.siteId) return `work item ${report.workItemId} belongs to another site`;
    if (report.kind === 'power.state') {
      const machineId = String(report.payload.machineId);
      if (!(await db('machines').where({ id: machineId, site_id: report.siteId }).first('id')))
        return `machine ${machineId} is not a machine of site ${report.siteId}`;
    }
    return null;
  }

  /** Records what was not applied: one row each, and one audit record per agent and outcome. */
  private async setAside(entries: SetAside[], db: Knex): Promise<void> {
    if (entries.length === 0) return;
    await db('report_dead_letters').insert(
      entries.map(({ report, outcome, reason }) => ({
        agent_id: String(report.agentId).slice(0, 200),
        site_id: typeof report.siteId === 'string' ? report.siteId.slice(0, 200) : null,
        sequence: Number.isSafeInteger(report.sequence) ? report.sequence : null,
        kind: typeof report.kind === 'string' ? report.kind.slice(0, 200) : null,
        report: JSON.stringify(report),
        reason: `${outcome}: ${reason}`,
      })),
    );
    const groups = new Map<string, SetAside[]>();
    for (const entry of entries) {
      const key = `${entry.report.agentId}\0${entry.report.channelSiteId ?? ''}\0${entry.outcome}`;
      groups.set(key, [...(groups.get(key) ?? []), entry]);
    }
    for (const group of groups.values()) {
      const { report, outcome } = group[0];
      const agentId = typeof report.agentId === 'string' && uuid.test(report.agentId) ? report.agentId : null;
      if (agentId) {
        const column = outcome === 'refused' ? 'refused_reports' : 'dead_lettered_reports';
        // Counted against the agent only when it is of the channel's site: a report posing as another site's agent marks nothing of that agent.
        await db('agents')
          .where({ id: agentId, site_id: report.channelSiteId ?? report.siteId })
          .update({
            [column]: db.raw(`${column} + ?`, [group.length]),
            last_report_problem: `${outcome}: ${group.at(-1)!.reason}`,
            last_report_problem_at: db.fn.now(),
          });
      }
      this.deps.logger.warn(
        { agent: report.agentId, channelSite: report.channelSiteId, count: group.length, reason: group[0].reason },
        `agent reports ${outcome}`,
      );
      await this.deps.audit.record(
        {
          actor: `agent:${String(report.agentId).slice(0, 64)}`,
          action: outcome === 'refused' ? 'agent.report.refused' : 'agent.report.dead-lettered',
          targetType: 'site',
          targetId: report.channelSiteId ?? (typeof report.siteId === 'string' ? report.siteId : null),
          outcome: outcome === 'refused' ? 'denied' : 'failed',
          details: {
            count: group.length,
            reports: group.slice(0, auditSample).map((e) => ({
              sequence: e.report.sequence,
              kind: e.report.kind,
              workItemId: e.report.workItemId ?? null,
              siteId: e.report.siteId,
              reason: e.reason,
            })),
          },
        },
        db,
      );
    }
  }

  private async applyKind(report: AgentReport, owner: WorkItemOwner | null, db: Knex): Promise<void> {
    const payload = report.payload ?? {};
    const log = logOf(report);
    const engine = this.deps.engine();
    const stepId = owner?.stepId ?? null;
    // A settled work item's opened BMC credentials are of no more use to anyone.
    if ((report.kind === 'task.succeeded' || report.kind === 'task.failed') && report.workItemId && (owner?.credentials ?? true))
      await scrubCredentials(db, report.workItemId);
    // A report the machine itself caused (an installer's callback): when it was heard from.
    const heardAt = machineHeardAt(report);
    if (stepId && heardAt) await engine.machineHeard(stepId, heardAt, db);
    switch (report.kind) {
      case 'task.started':
        if (stepId) await engine.siteStepStarted(stepId, log, db);
        return;
      case 'task.log':
        if (stepId) await engine.siteStepLog(stepId, log, db);
        return;
      case 'task.succeeded': {
        // Work without a step: an image request, or a power command or poll, answered.
        if (!stepId) {
          if (await this.deps.images().settle(db, report.workItemId, { ok: true, result: (payload.result as Record<string, unknown>) ?? {} })) return;
          await this.deps.power().settle(db, report.workItemId, { ok: true, result: (payload.result as Record<string, unknown>) ?? {} });
          return;
        }
        const result = (payload.result as Record<string, unknown>) ?? {};
        const failed = await this.failedHardwareTests(owner!, db);
        if (failed.length > 0) {
          const failedTests = failed.map((f) => f.name);
          // Each failed test's output tail follows its name: a script test's last lines say why.
          const tails = failed.filter((f) => f.output.trim()).map((f) => `${f.name}: ${tail(f.output.trim(), 400)}`);
          const error = `hardware tests failed: ${failedTests.join(', ')}${tails.length ? ` — ${tails.join('; ')}` : ''}`;
          await engine.siteStepFinished(stepId, { ok: false, error, log: [...log, ...tails], failAction: 'test_failed', reason: { failedTests } }, db);
          return;
        }
        await this.recordFacts(owner!, report.siteId, result, db);
        await engine.siteStepFinished(stepId, { ok: true, result, log }, db);
        return;
      }
      case 'machine.hwtest-result':
        if (stepId) await this.recordHardwareTest(owner!, report.siteId, payload, db);
        return;
      case 'task.failed': {
        if (!stepId) {
          if (
            await this.deps
              .images()
              .settle(db, report.workItemId, { ok: false, error: String(payload.error ?? 'the agent reported a failure without a message') })
          )
            return;
          await this.deps.power().settle(db, report.workItemId, {
            ok: false,
            error: String(payload.error ?? 'the agent reported a failure without a message'),
            ...(typeof payload.reason === 'string' ? { reason: payload.reason } : {}),
          });
          return;
        }
        const failedTests = Array.isArray(payload.failedTests) ? payload.failedTests.map(String) : [];
        await engine.siteStepFinished(
          stepId,
          {
            ok: false,
            error: String(payload.error ?? 'the agent reported a failure without a message'),
            log,
            ...(failedTests.length ? { failAction: 'test_failed' as const, reason: { failedTests } } : {}),
          },
          db,
        );
        return;
      }
      case 'dhcp.unknown-mac': {
        const networkId = typeof payload.networkId === 'string' && (await this.networkOfSite(payload.networkId, report.siteId, db)) ? payload.networkId : null;
        await db('discovered_macs')
          .insert({ site_id: report.siteId, mac: String(payload.mac), network_id: networkId, offered: (payload.offered as string) ?? null })
          .onConflict(['site_id', 'mac'])
          .merge({
            network_id: networkId,
            offered: (payload.offered as string) ?? null,
            last_seen_at: db.fn.now(),
            times_seen: db.raw('discovered_macs.times_seen + 1'),
          });
        return;
      }
      case 'dhcp.lease':
        await db('dhcp_leases')
          .insert({
            site_id: report.siteId,
            mac: String(payload.mac),
            address: String(payload.address),
            state: String(payload.state ?? 'bound'),
            expires_at: payload.expiresAt ? new Date(String(payload.expiresAt)) : null,
            client_uuid: (payload.uuid as string) ?? null,
          })
          .onConflict(['site_id', 'mac'])
          .merge();
        return;
      case 'power.state':
        await this.deps
          .power()
          .recordState(db, report.siteId, String(payload.machineId), payload.state as PowerState, typeof payload.error === 'string' ? payload.error : null);
        return;
      case 'dhcp.address-conflict':
        await this.addressConflict(report, db);
        return;
      default: {
        const entry = {
          actor: `agent:${report.agentId}`,
          action: `agent.${report.kind}`,
          targetType: 'site',
          targetId: report.siteId,
          outcome: 'success' as const,
          details: payload,
        };
        const repeat = refusalRepeat(report);
        if (repeat) await this.deps.audit.recordRepeated(entry, repeat, db);
        else await this.deps.audit.record(entry, db);
      }
    }
  }

  /**
   * The agent will not hand a machine its reserved address because another MAC still holds
   * a lease on it. Audited as a failure naming both machines; the step waiting for the
   * machine fails with that reason at once, instead of waiting for its watchdog.
   */
  private async addressConflict(report: AgentReport, db: Knex): Promise<void> {
    const payload = report.payload;
    const machineOf = (mac: unknown) =>
      typeof mac === 'string'
        ? db('interfaces')
            .join('machines', 'machines.id', 'interfaces.machine_id')
            .where({ 'interfaces.mac': mac.toLowerCase(), 'machines.site_id': report.siteId })
            .first('machines.id', 'machines.hostname', 'machines.current_workflow_id')
        : Promise.resolve(undefined);
    const wanting = await machineOf(payload.mac);
    const holder = await machineOf(payload.heldBy);
    const held = payload.heldBy
      ? `still leased to ${holder ? `machine ${holder.hostname}` : 'an unknown machine'} (${String(payload.heldBy)})`
      : payload.quarantined
        ? 'quarantined after a client declined it'
        : 'in use';
    const reason = `address ${String(payload.address)} reserved for ${wanting ? `machine ${wanting.hostname}` : String(payload.mac)} is ${held} at the agent; the agent will not hand it out until that lease ends`;
    await this.deps.audit.record(
      {
        actor: `agent:${report.agentId}`,
        action: 'agent.dhcp.address-conflict',
        targetType: wanting ? 'machine' : 'site',
        targetId: wanting?.id ?? report.siteId,
        outcome: 'failed',
        details: { ...payload, reason, ...(holder ? { heldByMachine: holder.hostname } : {}) },
      },
      db,
    );
    if (!wanting?.current_workflow_id) return;
    const step = await db('workflow_steps')
      .where({ workflow_id: wanting.current_workflow_id, kind: 'site' })
      .whereIn('state', ['dispatched', 'running'])
      .first('id');
    if (step) await this.deps.engine().siteStepFinished(step.id, { ok: false, error: reason, log: [reason] }, db);
  }

  /** Stores a machine's hardware test result, judged against its expected values by the hwtest providers. */
  private async recordHardwareTest(owner: WorkItemOwner, siteId: string, payload: Record<string, unknown>, db: Knex): Promise<void> {
    if (!owner.workflowId) return;
    // The machine must be of the reporting site, like the work item.
    const machine = await db('workflows as w')
      .join('machines as m', 'm.id', 'w.machine_id')
      .where({ 'w.id': owner.workflowId, 'm.site_id': siteId })
      .first('m.id', 'm.expected');
    if (!machine) return;
    const workflow = { id: owner.workflowId, machine_id: machine.id as string };
    let result: HardwareTestResult = {
      name: String(payload.name),
      status: payload.status as HardwareTestResult['status'],
      durationMs: Number(payload.durationMs ?? 0),
      output: String(payload.output ?? ''),
      facts: (payload.facts as Record<string, unknown>) ?? undefined,
    };
    for (const provider of await this.deps.hwtests()) result = provider.judge(result, machine.expected ?? {});
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

  /** The workflow's failed tests, each once, with the output of its last failed result. */
  private async failedHardwareTests(owner: WorkItemOwner, db: Knex): Promise<{ name: string; output: string }[]> {
    if (!owner.workflowId) return [];
    const rows = await db('hardware_test_results').where({ workflow_id: owner.workflowId, status: 'failed' }).orderBy('id').select('name', 'output');
    const byName = new Map<string, string>();
    for (const r of rows) byName.set(r.name as string, String(r.output ?? ''));
    return [...byName].map(([name, output]) => ({ name, output }));
  }

  /** Hardware facts a commissioning machine reported become the machine's. */
  private async recordFacts(owner: WorkItemOwner, siteId: string, result: Record<string, unknown>, db: Knex): Promise<void> {
    if (!result.facts || typeof result.facts !== 'object' || !owner.workflowId) return;
    await db('machines')
      .where({ site_id: siteId })
      .whereIn('id', db('workflows').where({ id: owner.workflowId }).select('machine_id'))
      .update({ hardware: JSON.stringify(result.facts) });
  }

  /**
   * Whether the network is one of the site's. A network never moves to another site, so a
   * yes is remembered (a rack of unknown MACs reports the same network once per MAC a minute).
   */
  private async networkOfSite(networkId: string, siteId: string, db: Knex): Promise<boolean> {
    const key = `${siteId} ${networkId}`;
    if (this.siteNetworks.has(key)) return true;
    if (!uuid.test(networkId) || !(await db('networks').where({ id: networkId, site_id: siteId }).first('id'))) return false;
    if (this.siteNetworks.size >= rememberedItems) this.siteNetworks.clear();
    this.siteNetworks.add(key);
    return true;
  }

  /** The step and site a work item was dispatched for; they never change, so they are remembered. */
  /** The workflow a work item belongs to, for log lines; undefined for work of no workflow. */
  private async workflowOf(workItemId: string): Promise<string | undefined> {
    const outboxId = outboxIdOf(workItemId);
    if (outboxId === null) return undefined;
    return (await this.deps.db('outbox').where({ id: outboxId }).first('workflow_id'))?.workflow_id ?? undefined;
  }

  private async ownerOf(workItemId: string | null | undefined, db: Knex): Promise<WorkItemOwner | null> {
    const outboxId = workItemId ? outboxIdOf(workItemId) : null;
    if (outboxId === null) return null;
    const known = this.itemOwners.get(outboxId);
    if (known !== undefined) return known;
    const row = await db('outbox')
      .where({ id: outboxId })
      .first(
        'step_id',
        'site_id',
        'workflow_id',
        db.raw(`(${powerCredentialKeys.map((key) => `jsonb_exists(payload, '${key}')`).join(' or ')}) as credentials`),
      );
    if (!row) return null;
    const owner: WorkItemOwner = {
      stepId: row.step_id ?? null,
      siteId: row.site_id,
      workflowId: row.workflow_id ?? null,
      credentials: row.credentials !== false,
    };
    if (this.itemOwners.size >= rememberedItems) this.itemOwners.delete(this.itemOwners.keys().next().value!);
    this.itemOwners.set(outboxId, owner);
    return owner;
  }
}

/** The last `chars` characters of text, marked as cut when they are not all of it. */
function tail(text: string, chars: number): string {
  return text.length <= chars ? text : `…${text.slice(-chars)}`;
}

/** When the machine behind a report spoke (the agent stamps reports its callbacks cause), if the report says so. */
function machineHeardAt(report: AgentReport): Date | null {
  const at = report.payload?.machineHeardAt;
  const date = typeof at === 'string' ? new Date(at) : null;
  return date && !Number.isNaN(date.getTime()) ? date : null;
}
