/**
 * Runs the site services (DHCP, TFTP, HTTP boot, DNS) the agent's config enables, from
 * the agent's builtin ones and the plugins' agent parts. Each gets its settings, the
 * desired state, a way to report and the agent's lease authority (the DHCP service's
 * leases, which HTTP boot binds per-boot tokens to); their health goes into every heartbeat. A service
 * that fails to start is reported, and the others keep running.
 */
import { ensurePrivateDir } from '@sprout/kernel/sdk';
import { join } from 'node:path';
import type { AgentServiceFactory, AgentServiceContext, AgentSightings, Registry, RunningAgentService, SiteDesiredState } from '@sprout/kernel/sdk';
import { agentLeases } from './agent-leases.ts';

export interface ServiceHostDeps {
  dataDir: string;
  /** `services.<name>` from the agent config; a service runs only when it is configured. */
  settings: Record<string, Record<string, unknown>>;
  factories: Map<string, AgentServiceFactory>;
  desiredState: () => SiteDesiredState;
  report: (kind: string, payload: Record<string, unknown>) => void;
  /** Where services say a machine was seen booting (the agent's power waits). */
  sightings?: AgentSightings;
  /** The agent's metrics registry, handed to each service for metrics of its own. */
  metrics?: Registry;
  logger: AgentServiceContext['logger'] & { child?(bindings: Record<string, unknown>): AgentServiceContext['logger'] };
}

export class ServiceHost {
  private readonly running = new Map<string, RunningAgentService>();
  private readonly failed = new Map<string, string>();
  private readonly listeners: ((state: SiteDesiredState) => void)[] = [];
  /** Shared by every service: DHCP provides it, HTTP boot binds tokens to it. */
  private readonly leases = agentLeases();

  constructor(private readonly deps: ServiceHostDeps) {}

  async start(): Promise<void> {
    for (const [name, settings] of Object.entries(this.deps.settings)) {
      const factory = this.deps.factories.get(name);
      if (!factory) {
        this.fail(name, `no installed plugin offers a "${name}" service; known: ${[...this.deps.factories.keys()].join(', ') || 'none'}`);
        continue;
      }
      ensurePrivateDir(join(this.deps.dataDir, name));
      try {
        const service = await factory({
          dataDir: this.deps.dataDir,
          settings: settings ?? {},
          desiredState: this.deps.desiredState,
          onDesiredState: (listener) => this.listeners.push(listener),
          report: this.deps.report,
          // Each service's lines name it once, as `siteService` (the process is `service`).
          logger: this.deps.logger.child?.({ siteService: name }) ?? this.deps.logger,
          leases: this.leases,
          metrics: this.deps.metrics,
          services: this.deps.settings,
          sightings: this.deps.sightings,
        });
        this.running.set(name, service);
        this.deps.logger.info({ siteService: name }, 'site service started');
      } catch (err) {
        this.fail(name, (err as Error).message);
      }
    }
  }

  /** Tells every service about a newly applied desired state. */
  desiredStateChanged(state: SiteDesiredState): void {
    for (const listener of this.listeners) {
      try {
        listener(state);
      } catch (err) {
        this.deps.logger.error({ err }, 'a site service failed to take the new desired state');
      }
    }
  }

  health(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, service] of this.running) out[name] = { state: 'running', ...service.health() };
    for (const [name, error] of this.failed) out[name] = { state: 'failed', error };
    return out;
  }

  failures(): Record<string, string> {
    return Object.fromEntries(this.failed);
  }

  async stop(): Promise<void> {
    for (const service of this.running.values()) await service.stop().catch(() => undefined);
    this.running.clear();
  }

  private fail(name: string, error: string): void {
    this.failed.set(name, error);
    this.deps.logger.error({ siteService: name, error }, 'site service could not start');
    this.deps.report('agent.service-failed', { service: name, error });
  }
}
