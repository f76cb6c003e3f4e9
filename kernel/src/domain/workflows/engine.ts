/**
 * The workflow engine: moves each workflow forward one step at a time under a row lock
 * (`FOR UPDATE SKIP LOCKED`, so several control-plane replicas never run the same step
 * twice). Control steps run here with timeout and retries; site steps are written to
 * the outbox and wait for the agent's report. Cancellation is honoured at step
 * boundaries. A periodic sweep picks up whatever a crash left behind.
 */
import type { Knex } from 'knex';
import type { WorkflowObserver } from '../../metrics/control-plane-metrics.ts';
import type { Logger } from 'pino';
import { SproutError } from '../../errors/index.ts';
import { afterCommit, type KernelHooks, type WorkflowStepEvent } from '../../hooks/hooks.ts';
import type { Clock, Lifecycle } from '../lifecycle/lifecycle.ts';
import type { LifecycleAction } from '../lifecycle/transitions.ts';
import type { MachineRow } from '../machines/find-machine.ts';
import { controlSteps, type StepContext } from './control-steps.ts';
import { finishedStates, powerSteps, workflowDefinitions, type WorkflowKind } from './definitions.ts';
import { powerTargetOf, type CredentialSealer } from '../machines/bmc-credentials.ts';
import { workItemIdOf } from './outbox-dispatcher.ts';
import { secretValues } from './workflow-secrets.ts';

export interface WorkflowRow {
  id: string;
  kind: string;
  machine_id: string | null;
  site_id: string;
  state: string;
  params: Record<string, unknown>;
  machine_from_status: string | null;
  error: string | null;
  cancel_requested: boolean;
  created_by: string;
  created_at?: Date | string;
}

export interface StepRow {
  id: string;
  workflow_id: string;
  position: number;
  name: string;
  kind: 'control' | 'site';
  state: string;
  attempt: number;
  max_attempts: number;
  timeout_ms: number;
  idempotency_key: string;
  error: string | null;
  waiting_for: string | null;
  log_tail: string[];
  result: Record<string, unknown> | null;
  started_at?: Date | string | null;
  machine_heard_at?: Date | string | null;
}

export type SiteStepOutcome =
  | { ok: true; result?: Record<string, unknown>; log?: string[] }
  | {
      ok: false;
      error: string;
      log?: string[] /** e.g. `test_failed` when hardware tests failed while commissioning */;
      failAction?: LifecycleAction;
      reason?: Record<string, unknown>;
    };

export interface EngineDeps {
  db: Knex;
  lifecycle: Lifecycle;
  hooks: KernelHooks;
  logger: Logger;
  clock: Clock;
  stepContext: Omit<StepContext, 'trx' | 'workflow' | 'machine' | 'results'>;
  sweepIntervalMs: number;
  /** What an agent needs to apply a site's desired state (`sync-site`). */
  /** Bumps the site's desired-state revision: called with every control step's writes (addresses, reservations, DNS, boot intents). */
  siteChanged: (trx: Knex.Transaction, siteId: string) => Promise<number>;
  /** Called after a transaction that wrote site work to the outbox commits. */
  afterDispatch: () => void;
  /** Takes back work already handed to the transport (a cancelled workflow's). */
  withdraw: (siteId: string, workItemIds: string[]) => Promise<void>;
  /** Opens BMC credentials into a power step's work item (and nowhere else); `callTimeoutMs` bounds each BMC call at the agent. */
  power: { sealer: () => CredentialSealer; callTimeoutMs: number };
  /** Told of each step and workflow that ends, once its transaction committed (the metrics). */
  observer?: WorkflowObserver;
}

const LOG_TAIL = 20;
/**
 * Workflows advanced at once by this engine. Each holds a database connection for its
 * step; unbounded, a thousand kicks at once (a rack commissioned together) queued the API's
 * own requests behind them in the pool until they timed out with 503. Below the pool's 10,
 * but not far: on a starved host each statement waits for the process to be scheduled,
 * and workflows side by side are what keeps the database busy meanwhile.
 */
const maxAdvancing = 6;
const finishedStepStates = ['succeeded', 'failed', 'cancelled', 'skipped'];

type Next = 'continue' | 'stop';

export class WorkflowEngine {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Set<Promise<void>>();
  /** Kicked and waiting for a turn, in kick order; each once. */
  private readonly queued = new Set<string>();
  /** Being advanced now; kicked again meanwhile (`again`): advanced once more after. */
  private readonly advancing = new Set<string>();
  private readonly again = new Set<string>();
  private stopped = false;

  constructor(private readonly deps: EngineDeps) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.sweep(), this.deps.sweepIntervalMs);
    this.timer.unref();
    void this.sweep();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.queued.clear();
    await Promise.allSettled([...this.running]);
  }

  /** Advances a workflow soon, outside the caller's transaction. */
  kick(workflowId: string): void {
    if (this.stopped) return;
    // Advanced twice at once, the second would find the first's lock and skip: it goes again after.
    if (this.advancing.has(workflowId)) this.again.add(workflowId);
    else if (!this.queued.has(workflowId)) {
      this.queued.add(workflowId);
      setImmediate(() => this.nextTurns());
    }
  }

  /** Starts queued workflows while fewer than `maxAdvancing` run. */
  private nextTurns(): void {
    for (const workflowId of this.queued) {
      if (this.stopped || this.advancing.size >= maxAdvancing) return;
      this.queued.delete(workflowId);
      this.advancing.add(workflowId);
      const run = this.advance(workflowId)
        .catch((err) => this.deps.logger.error({ err, workflow: workflowId }, 'workflow engine failed'))
        .finally(() => {
          this.running.delete(run);
          this.advancing.delete(workflowId);
          if (this.again.delete(workflowId)) this.kick(workflowId);
          this.nextTurns();
        });
      this.running.add(run);
    }
  }

  /**
   * Kicks the unfinished workflows the engine has something to do for: recovery after a
   * crash or a lost kick. A workflow waiting for its site step's report is left alone (the
   * report moves it): kicking each of a thousand such workflows every sweep was a load of
   * its own, and with the limit it could keep the ones that needed a kick from ever getting one.
   */
  async sweep(): Promise<void> {
    if (this.stopped) return;
    try {
      const { db } = this.deps;
      const atTheSite = db('workflow_steps as s').whereRaw('s.workflow_id = w.id').where('s.kind', 'site').whereIn('s.state', ['dispatched', 'running']);
      const rows = await db('workflows as w')
        .where((q) => q.whereIn('w.state', ['pending', 'running']).whereNotExists(atTheSite))
        .orWhere((q) => q.where('w.cancel_requested', true).whereNotIn('w.state', finishedStates))
        .orderBy('w.updated_at')
        .select('w.id')
        .limit(200);
      for (const { id } of rows) this.kick(id);
    } catch (err) {
      this.deps.logger.error({ err }, 'workflow sweep failed');
    }
  }

  /**
   * Moves a workflow forward until it waits or ends. Background calls skip a workflow
   * another replica is advancing; `wait` (a request that must see the result, e.g.
   * cancel) queues behind it instead.
   */
  async advance(workflowId: string, options: { wait?: boolean } = {}): Promise<void> {
    for (let guard = 0; guard < 100; guard++) {
      const next = await this.deps.db.transaction((trx) => this.step(trx, workflowId, options.wait === true));
      if (next === 'stop') return;
    }
  }

  private async step(trx: Knex.Transaction, workflowId: string, wait = false): Promise<Next> {
    const lock = trx<WorkflowRow>('workflows').where({ id: workflowId }).forUpdate();
    const wf = await (wait ? lock : lock.skipLocked()).first();
    if (!wf || finishedStates.includes(wf.state as never)) return 'stop';
    const steps = await trx<StepRow>('workflow_steps').where({ workflow_id: wf.id }).orderBy('position');
    const current = steps.find((s) => s.state !== 'succeeded' && s.state !== 'skipped');

    // A site step the agent runs (one waiting on a machine can take 20 minutes) ends at
    // once too: its work is withdrawn and a late report for it finds the step cancelled.
    // A control step runs inside one transaction: it ends before a cancel is seen.
    if (
      wf.cancel_requested &&
      (!current || current.state === 'pending' || current.state === 'dispatched' || (current.kind === 'site' && current.state === 'running'))
    ) {
      await this.cancel(trx, wf, steps);
      return 'stop';
    }
    if (!current) {
      await this.finish(trx, wf, { ok: true });
      return 'stop';
    }
    if (current.kind === 'site') {
      if (current.state === 'pending') await this.dispatch(trx, wf, current);
      return 'stop';
    }
    return this.runControlStep(trx, wf, current, steps);
  }

  private async runControlStep(trx: Knex.Transaction, wf: WorkflowRow, step: StepRow, steps: StepRow[]): Promise<Next> {
    const implementation = controlSteps[step.name];
    const machine = wf.machine_id ? await trx<MachineRow>('machines').where({ id: wf.machine_id }).first() : undefined;
    const now = this.deps.clock.now();
    const attempt = step.attempt + 1;
    await trx('workflow_steps')
      .where({ id: step.id })
      .update({ state: 'running', attempt, started_at: step.attempt === 0 ? now : trx.raw('started_at') });
    step.started_at ??= now;
    await trx('workflows').where({ id: wf.id }).update({ state: 'running', updated_at: now });
    this.afterCommit(trx, 'workflowStepStarted', this.event(wf, step, 'running'));
    try {
      if (!implementation) throw new SproutError('SPROUT_ERR_INTERNAL', `no control step named ${step.name}`);
      if (!machine) throw new SproutError('SPROUT_ERR_NOT_FOUND', "the workflow's machine no longer exists");
      const results = Object.fromEntries(steps.filter((s) => s.state === 'succeeded').map((s) => [s.name, s.result ?? {}]));
      // A savepoint, so a failed attempt's writes vanish but the attempt is still recorded.
      const result = await trx.transaction((sp) =>
        withTimeout(
          implementation({ ...this.deps.stepContext, trx: sp, workflow: wf, machine, results }),
          step.timeout_ms,
          `step ${step.name} timed out after ${step.timeout_ms} ms`,
        ),
      );
      // What a control step writes (addresses, reservations, DNS records, boot intents) is what
      // the site's agents serve. A run of control steps (address, reservation, DNS, boot intent)
      // reaches the site as one revision, bumped by its last step: a revision per step was a
      // whole desired-state document per step for the site's agents to fetch and apply. A run
      // cut short (a step failing for good, a cancel) bumps where it ends; after a crash the
      // next step of the run, resumed by the sweep, bumps for it.
      if (steps.find((s) => s.position > step.position)?.kind !== 'control') await this.deps.siteChanged(trx, wf.site_id);
      await trx('workflow_steps')
        .where({ id: step.id })
        .update({
          state: 'succeeded',
          finished_at: this.deps.clock.now(),
          result: JSON.stringify(result),
          error: null,
          log_tail: JSON.stringify(appendLog(step.log_tail, [`${step.name}: ${summarise(result)}`])),
        });
      this.afterCommit(trx, 'workflowStepFinished', this.event(wf, step, 'succeeded'));
      this.observeStep(trx, wf, step, 'succeeded');
      return 'continue';
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const log = appendLog(step.log_tail, [`${step.name} attempt ${attempt}/${step.max_attempts} failed: ${message}`]);
      const retryable = !(err instanceof SproutError) || err.status >= 500 || err.code === 'SPROUT_ERR_CAPABILITY_UNAVAILABLE';
      if (retryable && attempt < step.max_attempts) {
        await trx('workflow_steps')
          .where({ id: step.id })
          .update({ state: 'pending', error: message, log_tail: JSON.stringify(log) });
        return 'continue';
      }
      await trx('workflow_steps')
        .where({ id: step.id })
        .update({ state: 'failed', finished_at: this.deps.clock.now(), error: message, log_tail: JSON.stringify(log) });
      // The steps of this run before it left their writes unannounced: the run ends here.
      if (steps.some((s) => s.position < step.position && s.kind === 'control' && s.state === 'succeeded')) await this.deps.siteChanged(trx, wf.site_id);
      this.afterCommit(trx, 'workflowStepFinished', { ...this.event(wf, step, 'failed'), error: message });
      this.observeStep(trx, wf, step, 'failed');
      this.deps.logger.warn({ workflow: wf.id, kind: wf.kind, machine: wf.machine_id, step: step.name, attempt, err: message }, 'workflow step failed');
      await this.finish(trx, wf, { ok: false, error: message, step: step.name, log });
      return 'stop';
    }
  }

  private async dispatch(trx: Knex.Transaction, wf: WorkflowRow, step: StepRow): Promise<void> {
    const site = await trx('sites').where({ id: wf.site_id }).first();
    const agents = await trx('agents').where({ site_id: wf.site_id }).count<{ count: number }[]>('* as count').first();
    const waitingFor = Number(agents?.count ?? 0) === 0 ? `waiting for an agent at site ${site.name}` : `waiting for the agent at site ${site.name} to take it`;
    await trx('outbox').insert({
      site_id: wf.site_id,
      kind: 'workflow-step',
      workflow_id: wf.id,
      step_id: step.id,
      payload: JSON.stringify({
        workflow: wf.id,
        kind: wf.kind,
        step: step.name,
        machine: wf.machine_id,
        // The site's agent needs the secrets (user-data for the installer's metadata): only its work carries them.
        params: { ...wf.params, ...(await secretValues(trx, wf.id)) },
        idempotencyKey: step.idempotency_key,
        // A power step's machine as its driver needs it, credentials opened only into this work item.
        ...(powerSteps.has(step.name) && wf.machine_id
          ? { power: await powerTargetOf(trx, this.deps.power.sealer(), wf.machine_id), callTimeoutMs: this.deps.power.callTimeoutMs }
          : {}),
        // No desired state rides along: the agent follows the site's revisioned document,
        // which the control steps before this one bumped. It runs the step only once it
        // serves this revision or a later one (a power-on must not boot the machine into
        // the boot intent of before), and the step waits for what else it needs.
        siteRevision: Number(site.desired_revision ?? 0),
      }),
    });
    trx.executionPromise.then(
      () => this.deps.afterDispatch(),
      () => undefined,
    );
    const now = this.deps.clock.now();
    await trx('workflow_steps')
      .where({ id: step.id })
      .update({ state: 'dispatched', attempt: step.attempt + 1, started_at: now, waiting_for: waitingFor });
    await trx('workflows').where({ id: wf.id }).update({ state: 'dispatched', updated_at: now });
    this.afterCommit(trx, 'workflowStepStarted', this.event(wf, step, 'dispatched'));
  }

  /** An agent took a site step: it is running now. Idempotent. */
  async siteStepStarted(stepId: string, log: string[] = [], db: Knex = this.deps.db): Promise<void> {
    await inTransaction(db, async (trx) => {
      const { step } = await this.lockStep(trx, stepId);
      if (!step || (step.state !== 'dispatched' && step.state !== 'running')) return;
      await trx('workflow_steps')
        .where({ id: step.id })
        .update({ state: 'running', waiting_for: null, log_tail: JSON.stringify(appendLog(step.log_tail, log)) });
      await trx('workflows').where({ id: step.workflow_id }).update({ state: 'running', updated_at: this.deps.clock.now() });
    });
  }

  /** Log lines an agent sent while running a site step. */
  async siteStepLog(stepId: string, log: string[], db: Knex = this.deps.db): Promise<void> {
    await inTransaction(db, async (trx) => {
      const { step } = await this.lockStep(trx, stepId);
      if (!step || finishedStepStates.includes(step.state)) return;
      await trx('workflow_steps')
        .where({ id: step.id })
        .update({ log_tail: JSON.stringify(appendLog(step.log_tail, log)) });
    });
  }

  /**
   * The machine a site step works on was heard from at `at` (the agent's stamp): kept as the
   * latest such time, so a late, journaled report never moves it back.
   */
  async machineHeard(stepId: string, at: Date, db: Knex = this.deps.db): Promise<void> {
    await db('workflow_steps')
      .where({ id: stepId })
      .update({ machine_heard_at: db.raw('greatest(coalesce(machine_heard_at, ?::timestamptz), ?::timestamptz)', [at.toISOString(), at.toISOString()]) });
  }

  /**
   * An agent finished a site step. Reports for a step already finished change nothing.
   * `db` may be the caller's transaction (the workflow goes on once it committed).
   */
  async siteStepFinished(stepId: string, outcome: SiteStepOutcome, db: Knex = this.deps.db): Promise<void> {
    let workflowId: string | undefined;
    await inTransaction(db, async (trx) => {
      const { step, workflow: wf } = await this.lockStep(trx, stepId);
      if (!step || !wf || !['dispatched', 'running'].includes(step.state)) return;
      if (finishedStates.includes(wf.state as never)) return;
      workflowId = wf.id;
      const log = appendLog(step.log_tail, outcome.log ?? []);
      const now = this.deps.clock.now();
      if (outcome.ok) {
        await trx('workflow_steps')
          .where({ id: step.id })
          .update({ state: 'succeeded', finished_at: now, waiting_for: null, result: JSON.stringify(outcome.result ?? {}), log_tail: JSON.stringify(log) });
        await trx('workflows').where({ id: wf.id }).update({ state: 'running', updated_at: now });
        this.afterCommit(trx, 'workflowStepFinished', this.event(wf, step, 'succeeded'));
        this.observeStep(trx, wf, step, 'succeeded');
      } else {
        await trx('workflow_steps')
          .where({ id: step.id })
          .update({ state: 'failed', finished_at: now, waiting_for: null, error: outcome.error, log_tail: JSON.stringify(log) });
        this.afterCommit(trx, 'workflowStepFinished', { ...this.event(wf, step, 'failed'), error: outcome.error });
        this.observeStep(trx, wf, step, 'failed');
        this.deps.logger.warn(
          { workflow: wf.id, kind: wf.kind, machine: wf.machine_id, step: step.name, err: outcome.error },
          'workflow step failed at the site',
        );
        await this.finish(trx, wf, { ok: false, error: outcome.error, step: step.name, log, failAction: outcome.failAction, reason: outcome.reason });
      }
    });
    if (!workflowId) return;
    const id = workflowId;
    if (db === this.deps.db) this.kick(id);
    else
      (db as Knex.Transaction).executionPromise.then(
        () => this.kick(id),
        () => undefined,
      );
  }

  /**
   * Locks the step's workflow (lock order: workflow, then step, as the engine does) and
   * reads the step after the lock, so it is the step as the lock holder before left it.
   */
  private async lockStep(trx: Knex.Transaction, stepId: string): Promise<{ step?: StepRow; workflow?: WorkflowRow }> {
    const workflow = await trx<WorkflowRow>('workflows as w')
      .join('workflow_steps as s', 's.workflow_id', 'w.id')
      .where('s.id', stepId)
      .forUpdate('w')
      .first('w.*');
    if (!workflow) return {};
    return { step: await trx<StepRow>('workflow_steps').where({ id: stepId }).first(), workflow };
  }

  private async finish(
    trx: Knex.Transaction,
    wf: WorkflowRow,
    outcome: { ok: true } | { ok: false; error: string; step: string; log: string[]; failAction?: LifecycleAction; reason?: Record<string, unknown> },
  ): Promise<void> {
    const now = this.deps.clock.now();
    await trx('workflows')
      .where({ id: wf.id })
      .update({
        state: outcome.ok ? 'succeeded' : 'failed',
        error: outcome.ok ? null : `${outcome.step}: ${outcome.error}`,
        finished_at: now,
        updated_at: now,
      });
    this.observeWorkflow(trx, wf, outcome.ok ? 'succeeded' : 'failed', outcome.ok ? undefined : `${outcome.step}: ${outcome.error}`);
    const definition = workflowDefinitions[wf.kind as WorkflowKind];
    if (!definition?.succeeded || !definition.failed || !wf.machine_id) return;
    const machine = await trx<MachineRow>('machines').where({ id: wf.machine_id }).forUpdate().first();
    if (!machine || machine.current_workflow_id !== wf.id) return;
    // The boot intent ends with its workflow: a machine booting again after commissioning, or
    // after a failed install, is not sent back into the installer. Only a deploy's `local` stays.
    const ended = await trx('boot_intents').where({ machine_id: machine.id, workflow_id: wf.id }).whereNot({ intent: 'local' }).delete();
    if (ended > 0) await this.deps.siteChanged(trx, wf.site_id);
    if (outcome.ok) {
      await this.deps.lifecycle.transition(trx, { machine, action: definition.succeeded, actor: 'system', workflowId: wf.id });
    } else {
      await this.deps.lifecycle.transition(trx, {
        machine,
        action: outcome.failAction ?? definition.failed,
        actor: 'system',
        workflowId: wf.id,
        reason: {
          code: 'step_failed',
          message: `${wf.kind} failed in step ${outcome.step}: ${outcome.error}`,
          step: outcome.step,
          workflow: wf.id,
          logTail: outcome.log.slice(-5),
          ...(outcome.reason ?? {}),
        },
      });
    }
  }

  private async cancel(trx: Knex.Transaction, wf: WorkflowRow, steps: StepRow[]): Promise<void> {
    const now = this.deps.clock.now();
    const interrupted = steps.find((s) => s.kind === 'site' && s.state === 'running');
    await trx('workflow_steps')
      .where({ workflow_id: wf.id })
      .whereIn('state', ['pending', 'dispatched'])
      .update({ state: 'cancelled', finished_at: now, waiting_for: null });
    if (interrupted) {
      await trx('workflow_steps')
        .where({ id: interrupted.id, state: 'running' })
        .update({
          state: 'cancelled',
          finished_at: now,
          waiting_for: null,
          error: `cancelled while running by ${(wf.params.cancelledBy as string) ?? 'system'}`,
          log_tail: JSON.stringify(
            appendLog(interrupted.log_tail, ["cancelled while running: the site agent's work is withdrawn; a report it still sends is ignored"]),
          ),
        });
    }
    await trx('outbox').where({ workflow_id: wf.id }).whereNull('dispatched_at').delete();
    const handedOut = await trx('outbox').where({ workflow_id: wf.id }).whereNotNull('dispatched_at').select('id');
    if (handedOut.length > 0) {
      const ids = handedOut.map((r) => workItemIdOf(Number(r.id)));
      trx.executionPromise.then(
        () =>
          this.deps
            .withdraw(wf.site_id, ids)
            .catch((err) => this.deps.logger.warn({ err, workflow: wf.id }, 'could not withdraw work of a cancelled workflow')),
        () => undefined,
      );
    }
    await trx('workflows').where({ id: wf.id }).update({ state: 'cancelled', finished_at: now, updated_at: now });
    this.observeWorkflow(trx, wf, 'cancelled');
    if (!wf.machine_id) return;
    const machine = await trx<MachineRow>('machines').where({ id: wf.machine_id }).forUpdate().first();
    if (!machine || machine.current_workflow_id !== wf.id) return;
    // Also when no intent went: a run of control steps cut short by the cancel left its writes unannounced.
    await trx('boot_intents').where({ machine_id: machine.id, workflow_id: wf.id }).delete();
    await this.deps.siteChanged(trx, wf.site_id);
    const at = steps.find((s) => s.state !== 'succeeded');
    await this.deps.lifecycle.transition(trx, {
      machine,
      action: 'cancel',
      actor: (wf.params.cancelledBy as string) ?? 'system',
      returnTo: wf.machine_from_status ?? 'new',
      workflowId: wf.id,
      reason: {
        code: 'cancelled',
        message: `${wf.kind} cancelled by ${(wf.params.cancelledBy as string) ?? 'system'}${interrupted ? ` while step ${interrupted.name} was running (the machine may still be on; power it off or release it)` : at ? ` before step ${at.name}` : ''}`,
        workflow: wf.id,
        ...(at ? { step: at.name } : {}),
      },
    });
  }

  /**
   * Runs a step hook once the step's writes committed, so a tap that reads the database
   * sees them: after the outermost transaction (a report applied in its own transaction
   * reaches here in a savepoint). An after hook cannot undo the step; its failure is logged.
   */
  private afterCommit(trx: Knex.Transaction, hook: 'workflowStepStarted' | 'workflowStepFinished', event: WorkflowStepEvent): void {
    afterCommit(
      trx,
      () => this.deps.hooks[hook].promise(event),
      (err) => this.deps.logger.error({ err, workflow: event.workflowId, step: event.step }, `${hook} hook failed`),
    );
  }

  /** Counts a step that ended, once (and only if) its transaction commits. */
  private observeStep(trx: Knex.Transaction, wf: WorkflowRow, step: StepRow, outcome: string): void {
    const observer = this.deps.observer;
    if (!observer) return;
    const seconds = (this.deps.clock.now().getTime() - new Date(step.started_at ?? this.deps.clock.now()).getTime()) / 1000;
    trx.executionPromise.then(
      () => observer.stepFinished({ kind: wf.kind, step: step.name, outcome, seconds }),
      () => undefined,
    );
  }

  /** Logs and counts a workflow that ended, once its transaction commits. */
  private observeWorkflow(trx: Knex.Transaction, wf: WorkflowRow, outcome: 'succeeded' | 'failed' | 'cancelled', error?: string): void {
    const seconds = (this.deps.clock.now().getTime() - new Date(wf.created_at ?? this.deps.clock.now()).getTime()) / 1000;
    trx.executionPromise.then(
      () => {
        const line = {
          workflow: wf.id,
          kind: wf.kind,
          machine: wf.machine_id,
          site: wf.site_id,
          outcome,
          seconds: Math.round(seconds * 10) / 10,
          ...(error ? { error } : {}),
        };
        if (outcome === 'failed') this.deps.logger.warn(line, `${wf.kind} workflow failed`);
        else this.deps.logger.info(line, `${wf.kind} workflow ${outcome}`);
        this.deps.observer?.workflowFinished({ kind: wf.kind, outcome, seconds });
      },
      () => undefined,
    );
  }

  private event(wf: WorkflowRow, step: StepRow, state: string): WorkflowStepEvent {
    return { workflowId: wf.id, machineId: wf.machine_id, kind: wf.kind, step: step.name, state };
  }
}

/**
 * Runs `work` in the caller's transaction when it is one (a batch of reports applied
 * together: a savepoint per report only cost round trips, as a failure fails the batch
 * anyway), else in a transaction of its own.
 */
function inTransaction<T>(db: Knex | Knex.Transaction, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return (db as Knex.Transaction).isTransaction ? work(db as Knex.Transaction) : db.transaction(work);
}

function appendLog(tail: string[] | null, lines: string[]): string[] {
  return [...(tail ?? []), ...lines].slice(-LOG_TAIL);
}

function summarise(result: Record<string, unknown>): string {
  return Object.entries(result)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}

async function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new SproutError('SPROUT_ERR_UNAVAILABLE', message)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
