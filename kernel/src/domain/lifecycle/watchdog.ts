/**
 * The watchdog: a machine that stays in an in-progress state past its deadline moves
 * to the matching failure state, with a reason naming the step it was waiting in and
 * what that step was waiting for. Rows are claimed with SKIP LOCKED, so with several
 * control planes each overdue machine fails exactly once.
 */
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock, Lifecycle } from './lifecycle.ts';
import { inProgress, type InProgressStatus } from './transitions.ts';
import type { MachineRow } from '../machines/find-machine.ts';

export class Watchdog {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: { db: Knex; lifecycle: Lifecycle; clock: Clock; logger: Logger; intervalMs: number }) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep().catch((err) => this.deps.logger.error({ err }, 'watchdog sweep failed')), this.deps.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Fails every overdue machine; returns how many. */
  async sweep(): Promise<number> {
    let failed = 0;
    for (;;) {
      const done = await this.deps.db.transaction(async (trx) => {
        const machine = await trx<MachineRow>('machines')
          .whereIn('status', Object.keys(inProgress))
          .where('status_deadline', '<=', this.deps.clock.now())
          .orderBy('status_deadline')
          .forUpdate()
          .skipLocked()
          .first();
        if (!machine) return true;
        await this.fail(trx, machine);
        failed++;
        return false;
      });
      if (done) return failed;
    }
  }

  private async fail(trx: Knex.Transaction, machine: MachineRow): Promise<void> {
    const status = machine.status as InProgressStatus;
    const waited = Math.round((this.deps.clock.now().getTime() - new Date(machine.status_changed_at).getTime()) / 1000);
    const workflow = machine.current_workflow_id;
    const step = workflow
      ? await trx('workflow_steps').where({ workflow_id: workflow }).whereNotIn('state', ['succeeded', 'skipped']).orderBy('position').first()
      : undefined;
    const waitingIn = step ? ` waiting in step ${step.name}${step.waiting_for ? ` (${step.waiting_for})` : step.state === 'running' ? ' (running)' : ''}` : '';
    if (workflow) {
      const now = this.deps.clock.now();
      await trx('workflow_steps')
        .where({ workflow_id: workflow })
        .whereIn('state', ['pending', 'dispatched', 'running'])
        .update({ state: 'failed', finished_at: now, waiting_for: null, error: trx.raw("coalesce(error, 'timed out')") });
      await trx('workflows')
        .where({ id: workflow })
        .whereNotIn('state', ['succeeded', 'failed', 'cancelled', 'timed_out'])
        .update({ state: 'timed_out', error: `${status} timed out after ${waited} s${waitingIn}`, finished_at: now, updated_at: now });
      await trx('outbox').where({ workflow_id: workflow }).whereNull('dispatched_at').delete();
    }
    await this.deps.lifecycle.transition(trx, {
      machine,
      action: 'watchdog_timeout',
      actor: 'system:watchdog',
      workflowId: workflow,
      reason: {
        code: 'watchdog_timeout',
        message: `${status} timed out after ${waited} s${waitingIn}`,
        ...(step ? { step: step.name } : {}),
        ...(workflow ? { workflow } : {}),
        // What the step last said (e.g. which machine it was waiting for), as a step failure keeps it.
        ...(Array.isArray(step?.log_tail) && step.log_tail.length > 0 ? { logTail: step.log_tail.slice(-5) } : {}),
      },
    });
    this.deps.logger.warn({ machine: machine.id, hostname: machine.hostname, status, step: step?.name }, 'watchdog moved machine to its failure state');
  }
}
