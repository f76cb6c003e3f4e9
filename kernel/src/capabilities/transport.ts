/**
 * Transport: how work reaches a site's agent and how its reports come back. Delivery is
 * at least once in both directions; both ends are idempotent (work item ids, per-agent
 * report sequence numbers). Each transport is a plugin (a broker, or agents long-polling
 * routes the plugin adds to the control plane's API); it provides both halves: the control-plane
 * side as this capability, the agent side from its `agent()` part.
 */
import { defineCapability } from './define-capability.ts';
import type { SiteDesiredStateDocument } from '../domain/sites/desired-state-schema.ts';

export interface WorkItem {
  /** Unique and stable across redeliveries: the agent's idempotency key. */
  id: string;
  siteId: string;
  /** Task kind the agent's executor runs, e.g. `sync-site`, `workflow-step`. */
  kind: string;
  workflowId?: string | null;
  stepId?: string | null;
  payload: Record<string, unknown>;
}

export interface AgentReport {
  agentId: string;
  siteId: string;
  /** Per agent, strictly increasing: the control plane applies each sequence once. */
  sequence: number;
  /** e.g. `task.started`, `task.log`, `task.succeeded`, `task.failed`, `event`. */
  kind: string;
  workItemId?: string | null;
  at: string;
  payload: Record<string, unknown>;
  /**
   * Set by the control plane's side of the transport, never taken from the agent: the site
   * whose credentials carried the report (the authenticated agent's site, a broker
   * subject's site). A report naming another site is refused.
   */
  channelSiteId?: string;
}

export interface TransportHealth {
  connected: boolean;
  detail?: string;
}

export interface DeliveryInfo {
  /** 1 on first delivery. */
  attempt: number;
  maxAttempts: number;
}

/** The control plane's side of a transport. */
export interface TransportProvider {
  /**
   * True when the transport's agents lease work straight from the kernel's outbox (through
   * the plugin context's `workQueue`): the outbox dispatcher then publishes nothing to it.
   */
  leasesFromOutbox?: boolean;
  /**
   * Hands a work item to its site; publishing the same id twice delivers it once. A
   * transport that `leasesFromOutbox` has nothing to hand over: it checks the item is queued.
   */
  publishWork(item: WorkItem): Promise<void>;
  /** Optional: hands several items over at once, as `publishWork` would one by one. */
  publishWorkMany?(items: WorkItem[]): Promise<void>;
  /**
   * Registers the report handler (one per process). A handler that throws gets the
   * report again later; a handler must therefore be idempotent.
   */
  onReport(handler: (report: AgentReport) => Promise<void>): Promise<void>;
  /**
   * Optional: registers a handler for reports a batch at a time (same order and retry rules
   * as `onReport`); the kernel prefers it, so it can apply many in few round trips.
   */
  onReports?(handler: (reports: AgentReport[]) => Promise<void>): Promise<void>;
  /**
   * Takes back work not yet delivered (a cancelled workflow's step). Optional: without
   * it a cancelled item may still reach the agent, whose reports then change nothing.
   */
  withdrawWork?(siteId: string, ids: string[]): Promise<void>;
  /**
   * Optional: carries the site's desired-state document to its agents (see the agent's
   * `watchDesiredState`). The kernel calls it after every revision of the site (at most one
   * call in flight per site), once per site at start and every minute. Delivery is
   * "latest value wins": an agent may miss intermediate revisions, never the latest.
   * Without it, agents long-poll `GET /v1/agents/{id}/desired-state`.
   */
  publishDesiredState?(siteId: string, document: SiteDesiredStateDocument): Promise<void>;
  /** Work that exhausted its deliveries without being acknowledged (the dead-letter path). */
  onDeadLetter(handler: (item: WorkItem, reason: string) => Promise<void>): Promise<void>;
  health(): TransportHealth;
  close(): Promise<void>;
}

/** The agent's side of a transport. */
export interface AgentTransport {
  /**
   * Consumes the agent's site's work. When `handler` resolves the item is acknowledged;
   * when it throws (or the agent dies) the item is delivered again, up to maxAttempts.
   */
  consumeWork(handler: (item: WorkItem, delivery: DeliveryInfo) => Promise<void>): Promise<void>;
  /**
   * Optional: calls `onDocument` with the site's current desired-state document (as
   * published by the control plane's `publishDesiredState`) as soon as the watch starts,
   * then with each newer one; resolves once the watch is set up, and keeps watching
   * (re-establishing itself after an outage) until `close()`. "Latest value wins": a
   * document may be delivered twice or be older than the one the agent holds, so the agent
   * validates each one and ignores revisions not above its own. The agent then long-polls
   * over HTTP only as a fallback.
   */
  watchDesiredState?(onDocument: (document: unknown) => void): Promise<void>;
  /**
   * Resolves once the control plane's side durably holds (or has applied) the reports;
   * rejects when unreachable or not taken, and the agent's journal sends them again.
   */
  publishReports(reports: AgentReport[]): Promise<void>;
  health(): TransportHealth;
  close(): Promise<void>;
}

export interface AgentTransportOptions {
  controlPlaneUrl: string;
  agentId: string;
  siteId: string;
  /** The agent's credential for the control plane's HTTP API. */
  credential: string;
  /** Transport settings the control plane sent at registration (e.g. a broker's URL). */
  settings: Record<string, unknown>;
  logger: { info(o: object, m?: string): void; warn(o: object, m?: string): void; error(o: object, m?: string): void };
}

/** What a transport plugin's `agent()` part exports as `transport`. */
export type AgentTransportFactory = (options: AgentTransportOptions) => Promise<AgentTransport>;

export const transportCapability = defineCapability<TransportProvider>({
  id: 'transport',
  cardinality: 'one',
  description: 'Delivery of work to site agents and of their reports back',
});
