/**
 * Applies lifecycle transitions: the only writer of `machines.status`. Each transition
 * is checked against the table, may be vetoed by a plugin, stores its structured reason
 * (a failure never without one), arms or clears the watchdog, and writes a machine
 * event and an audit record in the caller's transaction.
 */
import type { Knex } from 'knex';
import type { SproutConfig } from '../../config/schema.ts';
import { SproutError } from '../../errors/index.ts';
import { afterCommit, type KernelHooks, type MachineTransition } from '../../hooks/hooks.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { MachineRow } from '../machines/find-machine.ts';
import {
  allowedFrom,
  failureStatuses,
  inProgress,
  isInProgress,
  operatorActionsFrom,
  targetOf,
  type LifecycleAction,
  type MachineStatus,
} from './transitions.ts';

export interface StatusReason {
  code: string;
  message: string;
  step?: string;
  workflow?: string;
  [detail: string]: unknown;
}

export interface TransitionRequest {
  machine: MachineRow;
  action: LifecycleAction;
  actor: string;
  reason?: StatusReason | null;
  workflowId?: string | null;
  /** For `cancel`: the status to go back to. */
  returnTo?: string;
  /** For actions with alternatives (mark-fixed → new). */
  choose?: MachineStatus;
  requestId?: string;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export class Lifecycle {
  constructor(
    private readonly deps: { hooks: KernelHooks; audit: AuditLog; config: SproutConfig; clock: Clock; logger: { error(o: object, m?: string): void } },
  ) {}

  async transition(trx: Knex.Transaction, request: TransitionRequest): Promise<MachineRow> {
    const { machine, action, actor } = request;
    if (!allowedFrom(machine.status, action)) {
      const allowed = operatorActionsFrom(machine.status);
      throw new SproutError(
        'SPROUT_ERR_ILLEGAL_TRANSITION',
        `machine ${machine.hostname} is ${machine.status}: ${action.replace('_', '-')} is not allowed; allowed: ${allowed.join(', ') || 'none (wait for the current workflow or cancel it)'}`,
        { context: { machine: machine.id, status: machine.status, action, allowed } },
      );
    }
    const to = targetOf(action, machine.status, { returnTo: request.returnTo, choose: request.choose });
    const reason = request.reason ?? null;
    if (failureStatuses.includes(to) && !reason?.message) {
      throw new SproutError('SPROUT_ERR_INTERNAL', `refusing to move ${machine.hostname} to ${to} without a reason`);
    }
    const event: MachineTransition = {
      machineId: machine.id,
      hostname: machine.hostname,
      from: machine.status,
      to,
      action,
      reason: reason as MachineTransition['reason'],
      actor,
    };
    // In the transition's transaction: a veto (or a failing tap) rolls it all back.
    const veto = await this.deps.hooks.machineTransitionBefore.promise(event);
    if (veto) {
      throw new SproutError('SPROUT_ERR_CONFLICT', `${action.replace('_', '-')} of ${machine.hostname} was vetoed: ${veto.veto}`, {
        context: { machine: machine.id, action },
      });
    }

    const now = this.deps.clock.now();
    const deadline = isInProgress(to) ? new Date(now.getTime() + this.deps.config.lifecycle.timeouts[inProgress[to].timeout] * 1000) : null;
    const [updated] = await trx<MachineRow>('machines')
      .where({ id: machine.id, status: machine.status })
      .update({
        status: to,
        // Entering a new attempt clears the previous failure; otherwise the reason given.
        status_reason: (reason ? JSON.stringify(reason) : null) as never,
        status_changed_at: now,
        status_deadline: deadline,
        current_workflow_id: isInProgress(to) ? (request.workflowId ?? machine.current_workflow_id) : null,
        updated_at: now,
        ...(to === 'ready' && machine.status === 'releasing' ? { owner: null } : {}),
      })
      .returning('*');
    if (!updated) {
      throw new SproutError('SPROUT_ERR_CONFLICT', `machine ${machine.hostname} changed state concurrently; retry`, { context: { machine: machine.id } });
    }
    await trx('machine_events').insert({
      machine_id: machine.id,
      at: now,
      action,
      from_status: machine.status,
      to_status: to,
      reason: reason ? JSON.stringify(reason) : null,
      actor,
      workflow_id: request.workflowId ?? null,
    });
    await this.deps.audit.record(
      {
        actor,
        action: 'machine.transition',
        targetType: 'machine',
        targetId: machine.id,
        requestId: request.requestId ?? null,
        outcome: 'success',
        details: {
          hostname: machine.hostname,
          transition: action,
          status: { old: machine.status, new: to },
          ...(reason ? { reason } : {}),
          ...(request.workflowId ? { workflow: request.workflowId } : {}),
        },
      },
      trx,
    );
    // Once the transition is committed; a failing observer is logged with its plugin and hook.
    afterCommit(
      trx,
      () => this.deps.hooks.machineTransitionAfter.promise(event),
      (err) => this.deps.logger.error({ err, machine: event.machineId, transition: event.action }, 'machineTransitionAfter hook failed'),
    );
    return updated;
  }
}
