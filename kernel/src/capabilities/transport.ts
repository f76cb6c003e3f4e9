/**
 * Transport: how work reaches a site's agent and how its reports come back. Delivery is
 * at least once; both ends are idempotent (work item ids, report sequence numbers).
 * NATS JetStream in production, HTTP long-poll as the zero-dependency default.
 */
import { defineCapability } from './define-capability.ts';

export interface WorkItem {
  /** Unique and stable across redeliveries: the agent's idempotency key. */
  id: string;
  siteId: string;
  kind: string;
  workflowId?: string;
  step?: string;
  payload: Record<string, unknown>;
}

export interface AgentReport {
  agentId: string;
  siteId: string;
  /** Per-agent, strictly increasing: the control plane applies each sequence once. */
  sequence: number;
  kind: string;
  workItemId?: string;
  payload: Record<string, unknown>;
}

export interface TransportHealth {
  connected: boolean;
  detail?: string;
}

/** The control plane's side of a transport. */
export interface TransportProvider {
  publishWork(item: WorkItem): Promise<void>;
  onReport(handler: (report: AgentReport) => Promise<void>): Promise<void>;
  health(): TransportHealth;
  close(): Promise<void>;
}

export const transportCapability = defineCapability<TransportProvider>({
  id: 'transport',
  cardinality: 'one',
  description: 'Delivery of work to site agents and of their reports back',
});
