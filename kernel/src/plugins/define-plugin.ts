/**
 * What a plugin package's entry exports: one `definePlugin({...})`. Everything but
 * `setup` is declarative, so the store can run migrations without starting the plugin.
 * CLI commands are not here: the manifest names their module (`"commands"`), so
 * `sprout --help` never loads the server side of a plugin.
 */
import type { TSchema, Static } from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Capability } from '../capabilities/define-capability.ts';
import type { PluginHooks } from '../hooks/plugin-hooks.ts';
import type { SproutConfig } from '../config/schema.ts';
import type { AgentTransportFactory, WorkItem } from '../capabilities/transport.ts';

/** What a task handler in the agent gets besides its work item. */
export interface AgentTaskContext {
  /** Appends a line to the step's log (reported to the control plane). */
  log(line: string): void;
  /** Sends a report of another kind (events, facts) for this work item. */
  report(kind: string, payload: Record<string, unknown>): void;
  /** The agent's data directory, for state it keeps across restarts. */
  dataDir: string;
  /** The last desired state the control plane published to this agent. */
  desiredState(): Record<string, unknown>;
}

/** A task kind the agent can execute; its result is reported with `task.succeeded`. */
export type AgentTask = (item: WorkItem, ctx: AgentTaskContext) => Promise<Record<string, unknown>>;

/**
 * The site's desired state as the control plane publishes it (`sync-site`) and the
 * agent keeps it; site services answer machines from it.
 */
export interface SiteDesiredState {
  site?: { id: string; name: string };
  networks?: { id: string; name: string; cidr: string; gateway: string; dnsServers: string[]; domain: string | null; vlan: number | null; pxe: boolean; ranges: { kind: 'dynamic' | 'reserved'; start: string; end: string }[] }[];
  reservations?: { siteId: string; networkId: string; mac: string; address: string; hostname?: string; netboot: boolean }[];
  bootIntents?: { machineId: string; hostname: string; arch: 'x86_64' | 'arm64'; bootMode: 'bios' | 'uefi'; intent: 'commission' | 'deploy' | 'local'; params: Record<string, unknown>; workflow: string | null; mac: string | null }[];
  dnsRecords?: { siteId: string; zone: string; name: string; type: 'A' | 'PTR'; value: string; ttl?: number }[];
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
  logger: { info(o: object, m?: string): void; warn(o: object, m?: string): void; error(o: object, m?: string): void };
  /**
   * The settings of every site service this agent runs (`services` in its config), for a
   * service that points machines at another one — DHCP names the HTTP boot service's URL.
   * Read, never changed; absent where a service runs outside an agent (tests, benches).
   */
  services?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
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
}

export interface PluginContext<Config = Record<string, unknown>> {
  readonly id: string;
  /** This plugin's config (`plugins.<id>` in sprout.yaml), validated against its schema. */
  readonly config: Config;
  /** The kernel's effective config, secrets included: read, never log. */
  readonly kernelConfig: Readonly<SproutConfig>;
  readonly logger: Logger;
  readonly db: Knex;
  readonly hooks: PluginHooks;
  /** Registers the provider of a capability listed in `provides`; built on first use. */
  provide<T>(capability: Capability<T>, factory: () => T | Promise<T>): void;
  /** The active provider of a capability listed in `consumes`. */
  use<T>(capability: Capability<T>): Promise<T>;
  /** Every active provider of a `many` capability listed in `consumes`. */
  useAll<T>(capability: Capability<T>): Promise<T[]>;
  /** Routes, mounted encapsulated under `/v1/plugins/<id>/`. */
  routes(register: FastifyPluginAsync): void;
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
