/**
 * Every extension point of the kernel, declared once, in lifecycle order. Plugins tap
 * them through their context (taps are named after the plugin and their errors wrapped
 * with plugin id and hook name); the kernel calls them. Never add a hook anywhere else.
 *
 * Two kinds (docs/plugins.md, "Hooks"):
 * - before hooks (`inTransactionHooks`) run inside the caller's transaction, before its
 *   change: a veto or a failing tap rolls the whole change back. Each plugin tap has
 *   `beforeHookBudgetMs`; one that takes longer fails with SPROUT_ERR_HOOK_FAILED naming
 *   the plugin, and the change rolls back (the transaction holds locks meanwhile).
 * - after hooks run once the change committed (`afterCommit`), so a tap reading the
 *   database from any connection sees it; they cannot undo it and a failure is logged.
 */
import type { Knex } from 'knex';
import { AsyncParallelHook, AsyncSeriesBailHook, AsyncSeriesHook } from 'tapable';
import type { Principal } from '../auth/principal.ts';

/** How long one plugin's tap of a before hook may take, in the caller's transaction. */
export const beforeHookBudgetMs = 2000;

/**
 * A site, network or machine is about to be deleted: the id, and the deleting transaction
 * in which a plugin deletes its own rows that name it (its tables hold no foreign keys on
 * the kernel's). Called after the kernel's refusal checks, before the kernel's delete.
 */
export interface Removal {
  id: string;
  trx: Knex.Transaction;
}

export interface MachineTransition {
  machineId: string;
  hostname: string;
  from: string;
  to: string;
  action: string;
  reason: { code: string; message: string; step?: string; workflow?: string } | null;
  actor: string;
}

/** A `before` tap returns a veto to stop a transition; the reason reaches the operator. */
export interface Veto {
  veto: string;
}

export interface WorkflowStepEvent {
  workflowId: string;
  machineId: string | null;
  kind: string;
  step: string;
  state: string;
  error?: string | null;
}

export interface AuditEvent {
  id: number;
  actor: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  outcome: string;
}

export interface AuthorizeRequest {
  principal: Principal;
  action: string;
  method: string;
  url: string;
  requestId: string;
}

/** An `authorize` tap returns a denial to refuse a request the role check allowed. */
export interface Denial {
  deny: string;
}

export interface ServerStarted {
  address: string;
}

export function createHooks() {
  return Object.freeze({
    /** Server is listening; plugins may start background work. */
    serverStarted: new AsyncSeriesHook<[ServerStarted]>(['server']),
    /** After the role check, before a handler runs: any tap may deny. */
    authorize: new AsyncSeriesBailHook<[AuthorizeRequest], Denial | undefined>(['request']),
    /** An audit record was committed. */
    auditRecorded: new AsyncParallelHook<[AuditEvent]>(['record']),
    /** A machine is about to change lifecycle state, in the transition's transaction: any tap may veto. */
    machineTransitionBefore: new AsyncSeriesBailHook<[MachineTransition], Veto | undefined>(['transition']),
    /** A machine changed lifecycle state (committed). */
    machineTransitionAfter: new AsyncParallelHook<[MachineTransition]>(['transition']),
    /** A workflow step started (committed; a failing tap is logged, it cannot undo the step). */
    workflowStepStarted: new AsyncParallelHook<[WorkflowStepEvent]>(['step']),
    /** A workflow step finished, in any end state (committed; a failing tap is logged). */
    workflowStepFinished: new AsyncParallelHook<[WorkflowStepEvent]>(['step']),
    /** A site is being deleted (no machines or networks left), in the deleting transaction. */
    siteRemoving: new AsyncSeriesHook<[Removal]>(['removal']),
    /** A network is being deleted (no allocations left), in the deleting transaction. */
    networkRemoving: new AsyncSeriesHook<[Removal]>(['removal']),
    /** A machine (and its interfaces) is being deleted, in the deleting transaction. */
    machineRemoving: new AsyncSeriesHook<[Removal]>(['removal']),
    /** Server is about to stop; plugins release what they hold. */
    serverStopping: new AsyncSeriesHook<[]>([]),
  });
}

export type KernelHooks = ReturnType<typeof createHooks>;
export type HookName = keyof KernelHooks;

/** The hooks that run inside the caller's transaction, under `beforeHookBudgetMs` per tap. */
export const inTransactionHooks: ReadonlySet<HookName> = new Set<HookName>(['machineTransitionBefore', 'siteRemoving', 'networkRemoving', 'machineRemoving']);

/**
 * Runs `announce` once `trx` committed — the outermost transaction, when `trx` is a
 * savepoint inside another — and never when it rolls back. What it throws or rejects
 * with goes to `onError`: an after hook cannot undo a committed change.
 */
export function afterCommit(trx: Knex | Knex.Transaction, announce: () => Promise<unknown>, onError: (err: unknown) => void): void {
  const run = () => {
    try {
      announce().catch(onError);
    } catch (err) {
      onError(err);
    }
  };
  if (!('executionPromise' in trx)) return run();
  // A savepoint's own promise settles when it is released; the change commits with the outermost transaction.
  const levels: Promise<unknown>[] = [];
  for (let t: (Knex.Transaction & { parentTransaction?: Knex.Transaction }) | undefined = trx as Knex.Transaction; t; t = t.parentTransaction)
    levels.push(t.executionPromise);
  Promise.all(levels).then(run, () => undefined);
}
