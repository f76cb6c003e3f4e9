/**
 * Every extension point of the kernel, declared once, in lifecycle order. Plugins tap
 * them through their context (taps are named after the plugin and their errors wrapped
 * with plugin id and hook name); the kernel calls them. Never add a hook anywhere else.
 */
import { AsyncParallelHook, AsyncSeriesBailHook, AsyncSeriesHook } from 'tapable';
import type { Principal } from '../auth/principal.ts';

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
    /** A machine is about to change lifecycle state: any tap may veto. */
    machineTransitionBefore: new AsyncSeriesBailHook<[MachineTransition], Veto | undefined>(['transition']),
    /** A machine changed lifecycle state (committed). */
    machineTransitionAfter: new AsyncParallelHook<[MachineTransition]>(['transition']),
    /** A workflow step started (committed; a failing tap is logged, it cannot undo the step). */
    workflowStepStarted: new AsyncParallelHook<[WorkflowStepEvent]>(['step']),
    /** A workflow step finished, in any end state (committed; a failing tap is logged). */
    workflowStepFinished: new AsyncParallelHook<[WorkflowStepEvent]>(['step']),
    /** Server is about to stop; plugins release what they hold. */
    serverStopping: new AsyncSeriesHook<[]>([]),
  });
}

export type KernelHooks = ReturnType<typeof createHooks>;
export type HookName = keyof KernelHooks;
