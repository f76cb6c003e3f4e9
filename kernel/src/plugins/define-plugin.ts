/**
 * What a plugin package's entry exports: one `definePlugin({...})`. Everything but
 * `setup` is declarative, so the store can run migrations without starting the plugin.
 * CLI commands are not here: the manifest names their module (`"commands"`), so
 * `sprout --help` never loads the server side of a plugin.
 */
import type { WorkQueue } from '../domain/workflows/outbox-queue.ts';
import type { SiteDesiredStateDocument } from '../domain/sites/desired-state-schema.ts';
import type { TSchema, Static } from 'typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Capability } from '../capabilities/define-capability.ts';
import type { PluginHooks } from '../hooks/plugin-hooks.ts';
import type { KernelRead } from './kernel-read.ts';
import type { SproutConfig } from '../config/schema.ts';
import type { AgentTransportFactory, WorkItem } from '../capabilities/transport.ts';
import type { PowerDriver } from '../capabilities/power.ts';
import type { Registry } from '../metrics/registry.ts';
import type { AuditOutcome } from '../audit/audit-log.ts';

/** The site agent a request of an agent route comes from (see `PluginContext.agentRoutes`). */
export interface AgentCaller {
  agentId: string;
  siteId: string;
  /** `agent:<id>`, as the audit trail names it. */
  actor: string;
}

/**
 * A record a plugin adds to the kernel's audit trail. With the request it is about, the
 * actor, action (the route's `config.auth.action`), target type, request id and source
 * address come from the request; without one the actor is `plugin:<id>`.
 */
export interface PluginAuditEntry {
  outcome: AuditOutcome;
  action?: string;
  targetType?: string | null;
  targetId?: string | null;
  details?: Record<string, unknown>;
}

export interface PluginAudit {
  /** Writes the record; a request given is marked audited (no second, generic record for it). */
  record(entry: PluginAuditEntry, request?: FastifyRequest): Promise<void>;
}

/** What a task handler in the agent gets besides its work item. */
export interface AgentTaskContext {
  /** Appends a line to the step's log (reported to the control plane). */
  log(line: string): void;
  /** Sends a report of another kind (events, facts) for this work item. */
  report(kind: string, payload: Record<string, unknown>): void;
  /** The agent's data directory, for state it keeps across restarts. */
  dataDir: string;
  /** The last desired state the control plane published to this agent. */
  desiredState(): SiteDesiredState;
}

/** A task kind the agent can execute; its result is reported with `task.succeeded`. */
export type AgentTask = (item: WorkItem, ctx: AgentTaskContext) => Promise<Record<string, unknown>>;

/**
 * The site's desired state as the agent holds it and site services answer machines from
 * it: the revisioned document of `SiteDesiredStateSchema` (a service may see it empty
 * before the agent's first document, hence every part optional).
 */
export type SiteDesiredState = Partial<SiteDesiredStateDocument>;

/**
 * What this agent's DHCP service knows of its leases, for the services that bind a
 * machine's boot to the address it was leased (HTTP boot refuses a per-boot token asked
 * for from any other source address). Only acknowledged, unexpired leases count. MACs are
 * lower-case and colon-separated (`52:54:00:00:00:01`).
 */
export interface AgentLeaseLookup {
  /** The address bound to `mac` now, if any. */
  addressOf(mac: string): string | undefined;
  /** The MAC holding a bound lease on `address` now, if any. */
  macAt(address: string): string | undefined;
}

/**
 * Where the agent's site services meet over leases, one per agent: the service that
 * leases addresses (the builtin `dhcp`) provides the lookup while it runs, the others
 * ask it. Nothing else is shared between services.
 */
export interface AgentLeases {
  /** Makes `lookup` the agent's lease authority; returns the withdrawal (call it on stop). A second authority is refused (throws). */
  provide(lookup: AgentLeaseLookup): () => void;
  /** The lease authority, or undefined while no service of this agent leases addresses (e.g. an external DHCP server). */
  lookup(): AgentLeaseLookup | undefined;
}

/**
 * Where a site service tells the agent it saw a machine ask to boot: the builtin DHCP
 * service for a PXE or iPXE client's DISCOVER/REQUEST, HTTP boot for an iPXE script
 * request. The agent's manual power-on ends when the machine it waits for is seen (only
 * sightings after the step started count). Cheap and synchronous: call it for every
 * such request; the agent ignores MACs it waits for no machine on. MACs as in
 * AgentLeaseLookup.
 */
export interface AgentSightings {
  /** `via` names what was seen, for the step's log: `dhcp`, `http`… */
  seen(mac: string, via: string): void;
}

/** What a site service (DHCP, TFTP, HTTP boot, DNS) gets from the agent. */
export interface AgentServiceContext {
  /** The agent's data directory; a service keeps its own files in a folder named after it. */
  dataDir: string;
  /** This service's settings from the agent's config (`services.<name>`), e.g. ports and interfaces. */
  settings: Record<string, unknown>;
  desiredState(): SiteDesiredState;
  /** Called after each newly applied desired state. */
  onDesiredState(listener: (state: SiteDesiredState) => void): void;
  /** Sends a report to the control plane (journaled; e.g. `dhcp.lease`, `dhcp.unknown-mac`). */
  report(kind: string, payload: Record<string, unknown>): void;
  logger: { info(o: object, m?: string): void; warn(o: object, m?: string): void; error(o: object, m?: string): void; debug?(o: object, m?: string): void };
  /**
   * The agent's Prometheus registry, for metrics of the service's own (names per
   * checkMetricName: `sprout_` prefix, `_total` counters, base units). Counters the
   * heartbeat already carries in health() need no second count: docs/metrics.md.
   */
  metrics?: Registry;
  /** The agent's lease authority (see AgentLeases). Absent only in contexts built outside an agent, which then have none. */
  leases?: AgentLeases;
  /**
   * The settings of every site service this agent runs (`services` in its config), for a
   * service that points machines at another one — DHCP names the HTTP boot service's URL.
   * Read, never changed; absent where a service runs outside an agent (tests, benches).
   */
  services?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The agent's sightings of booting machines (see AgentSightings); absent outside an agent. */
  sightings?: AgentSightings;
}

/**
 * Where the agent's builtin `http` service listens when `services.http` leaves it out:
 * its own parser and the DHCP server (the iPXE script URL it hands out) read it here.
 */
export const httpServiceDefaults = { port: 8080, address: '0.0.0.0' } as const;

/** A running site service: its state for the heartbeat, and how to stop it. */
export interface RunningAgentService {
  health(): Record<string, unknown>;
  stop(): Promise<void>;
}

export type AgentServiceFactory = (ctx: AgentServiceContext) => Promise<RunningAgentService>;

/** The agent-side part of a plugin. */
export interface AgentPart {
  /** The agent half of a transport plugin. */
  transport?: AgentTransportFactory;
  /** Task kinds this plugin adds to the agent's executor. */
  tasks?: Record<string, AgentTask>;
  /** Site services this plugin runs in the agent, by name (`dhcp`, `tftp`, `dns`…). */
  services?: Record<string, AgentServiceFactory>;
  /**
   * Checks of a service's settings (`services.<name>` of agent.yaml), run before the agent
   * joins or starts anything: each throws a SproutError whose details name every bad field.
   */
  settingsChecks?: Record<string, (settings: Record<string, unknown>, services: Readonly<Record<string, Readonly<Record<string, unknown>>>>) => unknown>;
  /** Power drivers by the `bmc.type` they serve (`ipmi`, `redfish`…); see capabilities/power.ts. */
  power?: Record<string, PowerDriver>;
}

export interface PluginContext<Config = Record<string, unknown>> {
  readonly id: string;
  /** This plugin's config (`plugins.<id>` in sprout.yaml), validated against its schema. */
  readonly config: Config;
  /** The kernel's effective config, secrets included: read, never log. */
  readonly kernelConfig: Readonly<SproutConfig>;
  readonly logger: Logger;
  /** The database, for this plugin's own tables (created by its `migrations`); never query the kernel's tables with it. */
  readonly db: Knex;
  /** What the plugin may read of the kernel's tables (machines, leases…): see kernel-read.ts. */
  readonly read: KernelRead;
  readonly hooks: PluginHooks;
  /**
   * The kernel's outbox as a work queue, for a transport whose agents lease work from the
   * control plane (it sets `leasesFromOutbox`): lease, settle, give up, wait for new work.
   */
  readonly workQueue: WorkQueue;
  /** Registers the provider of a capability listed in `provides`; built on first use. */
  provide<T>(capability: Capability<T>, factory: () => T | Promise<T>): void;
  /** The active provider of a capability listed in `consumes`. */
  use<T>(capability: Capability<T>): Promise<T>;
  /**
   * This plugin's own provider of a capability listed in `provides` (the instance the
   * kernel uses, built on first use), or undefined while another plugin's serves it.
   */
  ownProvider<T>(capability: Capability<T>): Promise<T | undefined>;
  /** Every active provider of a `many` capability listed in `consumes`. */
  useAll<T>(capability: Capability<T>): Promise<T[]>;
  /** Routes, mounted encapsulated under `/v1/plugins/<id>/`. */
  routes(register: FastifyPluginAsync): void;
  /**
   * Routes of the agent protocol, mounted encapsulated under `/v1/agents/:id/` (declare
   * `'/work'`, not the full path): each must declare `config: { auth: { role: 'agent' } }`;
   * the kernel authenticates the caller as a site agent and refuses (403, audited) one
   * acting for another agent than `:id`. An agent route another loaded plugin, or the
   * kernel, already serves stops the start naming both.
   */
  agentRoutes(register: FastifyPluginAsync): void;
  /** The agent calling one of this plugin's agent routes. */
  agentOf(request: FastifyRequest): AgentCaller;
  /** The kernel's audit trail, for what this plugin's routes allow or refuse. */
  readonly audit: PluginAudit;
}

export interface PluginDefinition<Schema extends TSchema | undefined = TSchema | undefined> {
  /** Must equal the manifest's `sprout.id`. */
  id: string;
  configSchema?: Schema;
  /** Folder of knex migrations (`NNNN_name.ts` exporting `up` and `down`). */
  migrations?: string;
  /** Control-plane part: providers, routes, hook taps. No side effects before this runs. */
  setup?(ctx: PluginContext<Schema extends TSchema ? Static<Schema> : Record<string, unknown>>): void | Promise<void>;
  /** Agent-side part (transport half, task kinds, site services), loaded only by the site agent. */
  agent?(): Promise<AgentPart>;
}

const marker = Symbol.for('sprout.plugin-definition');

export function definePlugin<Schema extends TSchema | undefined = undefined>(definition: PluginDefinition<Schema>): PluginDefinition<Schema> {
  return Object.freeze({ ...definition, [marker]: true });
}

export function isPluginDefinition(value: unknown): value is PluginDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker] === true;
}
