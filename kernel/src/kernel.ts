/**
 * The kernel: boots in a fixed order and stops in reverse. Validation of config and
 * plugins comes first and reports every problem at once, before the database is opened
 * or any plugin runs.
 */
import type { Knex } from 'knex';
import { asValue, asFunction, createContainer, InjectionMode, type AwilixContainer } from 'awilix';
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Capability } from './capabilities/define-capability.ts';
import type { SproutConfig } from './config/schema.ts';
import { parseListen } from './config/read-config.ts';
import { maskUrls } from './config/mask-secrets.ts';
import { SproutError } from './errors/index.ts';
import { readTlsMaterial } from './tls/server-tls.ts';
import type { Server as TlsServer } from 'node:tls';
import { createHooks, type KernelHooks } from './hooks/hooks.ts';
import type { PluginPlan } from './plugins/plan.ts';
import { inspectPlugins, type PluginStatus } from './plugins/inspect.ts';
import { loadPlugins, type LoadedPlugin } from './plugins/load.ts';
import { PluginHost, capabilityKey } from './plugins/plugin-host.ts';
import { openStore, type Store } from './store/open-store.ts';
import { WriteHealth } from './store/write-health.ts';
import { logDestination } from './logging/log-destination.ts';
import { kernelMigrations, migrateToLatest, pendingMigrations, type MigrationFolder } from './store/migrate.ts';
import { AuditLog } from './audit/audit-log.ts';
import { AuditRetention } from './audit/audit-retention.ts';
import { TokenService } from './auth/token-service.ts';
import { bootstrapAdmin } from './auth/bootstrap-admin.ts';
import { NetworkService } from './domain/networks/network-service.ts';
import { ipamCapability } from './capabilities/ipam.ts';
import { dhcpCapability } from './capabilities/dhcp.ts';
import { dnsCapability } from './capabilities/dns.ts';
import { Lifecycle, systemClock, type Clock } from './domain/lifecycle/lifecycle.ts';
import { Watchdog } from './domain/lifecycle/watchdog.ts';
import { SiteService } from './domain/sites/site-service.ts';
import { MachineService } from './domain/machines/machine-service.ts';
import { WorkflowService } from './domain/workflows/workflow-service.ts';
import { WorkflowEngine } from './domain/workflows/engine.ts';
import { OutboxDispatcher } from './domain/workflows/outbox-dispatcher.ts';
import { OutboxQueue } from './domain/workflows/outbox-queue.ts';
import { AgentService } from './domain/agents/agent-service.ts';
import { ReportApplier } from './domain/agents/report-applier.ts';
import { desiredStateOf } from './domain/sites/desired-state.ts';
import { SiteRevisions } from './domain/sites/site-revisions.ts';
import { DesiredStatePublisher } from './domain/sites/desired-state-publisher.ts';
import type { SiteDesiredStateDocument } from './domain/sites/desired-state-schema.ts';
import { transportCapability } from './capabilities/transport.ts';
import { hwtestCapability } from './capabilities/hwtest.ts';
import { powerCapability } from './capabilities/power.ts';
import { credentialSealer, type CredentialSealer } from './domain/machines/bmc-credentials.ts';
import { BmcRules } from './domain/machines/bmc.ts';
import { PowerService } from './domain/machines/power-service.ts';
import { SiteImages } from './domain/sites/site-images.ts';
import { ControlPlaneMetrics } from './metrics/control-plane-metrics.ts';
import { kernelVersion } from './version.ts';

export interface KernelOptions {
  config: SproutConfig;
  logger?: Logger;
  /**
   * Package folders of the builtin plugins (`builtinPluginsOf(<package.json>)`: the CLI's
   * `@sprout/cli/builtin-plugins`); tests point it at fixtures. None by default.
   */
  builtinPlugins?: readonly string[];
  /** Environment the plugins' declared variables are read from (manifest `"env"`); process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** Store overrides for tests: a PostgreSQL schema, or PGlite in memory. */
  store?: { schema?: string; inMemory?: boolean };
  /** The clock watchdogs and deadlines read; tests move it. */
  clock?: Clock;
  /** Run the workflow engine's sweep and the watchdog on timers (default true). */
  background?: boolean;
}

/**
 * The kernel's services, as registered in its container and resolved on first use. Code
 * outside the kernel takes the ones it needs (routes get them by name, see build-app.ts);
 * tests and the CLI reach them here.
 */
export interface KernelServices {
  config: SproutConfig;
  logger: Logger;
  db: Knex;
  hooks: KernelHooks;
  clock: Clock;
  auditLog: AuditLog;
  auditRetention: AuditRetention;
  tokens: TokenService;
  networks: NetworkService;
  lifecycle: Lifecycle;
  sites: SiteService;
  /** Seals and opens machines' BMC passwords (bmc-credentials.ts). */
  credentials: CredentialSealer;
  machines: MachineService;
  workflows: WorkflowService;
  engine: WorkflowEngine;
  agents: AgentService;
  /** Revisions of each site's desired state: bumped by every change a site's agents serve. */
  siteRevisions: SiteRevisions;
  /** Power commands, the power poll and power state reports. */
  power: PowerService;
  /** Each site's image store: the agents' lists, imports and removals. */
  images: SiteImages;
  reports: ReportApplier;
  dispatcher: OutboxDispatcher;
  /** The outbox as the work queue of transports whose agents lease work (see outbox-queue.ts). */
  workQueue: OutboxQueue;
  watchdog: Watchdog;
}

export class Kernel {
  readonly hooks: KernelHooks = createHooks();
  readonly container: AwilixContainer;
  /** The container's services, each resolved on first use (no forwarding getters). */
  readonly services: KernelServices;
  app?: FastifyInstance;
  private stopped = false;
  private host?: PluginHost;
  /** Remembers a full disk until a probe write succeeds again; readiness reports it. */
  readonly writeHealth: WriteHealth;
  /** The control plane's Prometheus metrics, served at /metrics (docs/metrics.md). */
  readonly metrics: ControlPlaneMetrics;

  private constructor(
    readonly config: SproutConfig,
    readonly logger: Logger,
    readonly store: Store,
    readonly plugins: LoadedPlugin[],
    readonly pluginStatus: PluginStatus[],
    readonly migrationFolders: MigrationFolder[],
    private readonly plan: PluginPlan,
    readonly clock: Clock,
    private readonly background: boolean,
  ) {
    this.container = createContainer({ injectionMode: InjectionMode.PROXY, strict: true });
    this.services = this.container.cradle as KernelServices;
    this.writeHealth = new WriteHealth(store.db);
    this.metrics = new ControlPlaneMetrics({
      db: store.db,
      version: kernelVersion,
      networks: () => this.services.networks,
      offlineAfterSeconds: config.agents.heartbeatSeconds * config.agents.offlineAfterMissed,
      now: () => this.clock.now(),
    });
  }

  /** Validates, opens the store, migrates, sets plugins up and builds the HTTP app. */
  static async boot(options: KernelOptions): Promise<Kernel> {
    // Every line logged, by the kernel or a plugin, has the URLs in it masked (database.url, a transport's url…);
    // a log that cannot be written (full disk) never stops the server.
    const logger = options.logger ?? pino({ level: options.config.log.level, base: { service: 'sprout' }, hooks: { streamWrite: maskUrls } }, logDestination());
    const inspected = inspectPlugins(options.config, options.builtinPlugins, options.env ?? process.env);
    const { config } = inspected;
    const plugins = await loadPlugins(inspected.plan, config);
    const folders: MigrationFolder[] = [
      kernelMigrations,
      ...plugins.filter((p) => p.definition.migrations).map((p) => ({ owner: p.manifest.id, dir: p.definition.migrations! })),
    ];
    const store = await openStore({ databaseUrl: config.database.url, dataDir: config.dataDir, log: (message) => logger.warn(message), ...options.store });
    try {
      const kernel = new Kernel(
        config,
        logger,
        store,
        plugins,
        inspected.plugins,
        folders,
        inspected.plan,
        options.clock ?? systemClock,
        options.background ?? true,
      );
      await kernel.init();
      return kernel;
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  private async init(): Promise<void> {
    const { container, store, hooks, config, logger } = this;
    container.register({
      config: asValue(config),
      logger: asValue(logger),
      db: asValue(store.db),
      hooks: asValue(hooks),
      auditLog: asFunction(
        ({ db, hooks, logger }) =>
          new AuditLog(db, hooks, (err) => logger.error({ err }, 'auditRecorded hook failed'), {
            repeatWindowMs: config.audit.repeatWindowSeconds * 1000,
            now: () => this.clock.now().getTime(),
          }),
      ).singleton(),
      tokens: asFunction(({ db }) => new TokenService(db)).singleton(),
    });
    const applied = await migrateToLatest(store.db, this.migrationFolders);
    if (applied.length > 0) logger.info({ migrations: applied }, 'applied migrations');
    store.tightenFiles(); // migrations may have created new files
    const workQueue = new OutboxQueue({ db: store.db, kind: store.kind, logger, schema: store.schema });
    container.register({ workQueue: asValue(workQueue) });
    const host = (this.host = new PluginHost({ container, plan: this.plan, plugins: this.plugins, db: store.db, hooks, logger, config, workQueue }));
    await host.setup();
    container.register({
      clock: asValue(this.clock),
      networks: asFunction(
        ({ db, hooks }) =>
          new NetworkService({ db, hooks, ipam: () => this.capability(ipamCapability), ipamProviderId: () => host.providersOf('ipam')[0] ?? 'none' }),
      ).singleton(),
      lifecycle: asFunction(({ hooks, auditLog, config, clock, logger }) => new Lifecycle({ hooks, audit: auditLog, config, clock, logger })).singleton(),
      sites: asFunction(({ db, config, clock, hooks }) => new SiteService({ db, config, clock, hooks })).singleton(),
      // One sealer for BMC passwords, built once: the routes seal with it, power work items open with it.
      credentials: asValue(credentialSealer(config)),
      machines: asFunction(
        ({ db, credentials, hooks }) =>
          new MachineService({ db, hooks, bmc: new BmcRules({ sealer: credentials, drivers: () => this.capabilityAll(powerCapability) }) }),
      ).singleton(),
      workflows: asFunction(({ db, lifecycle }) => new WorkflowService({ db, lifecycle, engine: () => this.services.engine })).singleton(),
      engine: asFunction(
        ({ db, lifecycle, hooks, logger, clock, networks, config, credentials }) =>
          new WorkflowEngine({
            db,
            lifecycle,
            hooks,
            logger,
            clock,
            sweepIntervalMs: 2000,
            siteChanged: (trx, siteId) => this.services.siteRevisions.changed(trx, siteId),
            afterDispatch: () => this.services.dispatcher.kick(),
            withdraw: async (siteId, ids) => (await this.capability(transportCapability)).withdrawWork?.(siteId, ids),
            stepContext: { networks, config, dhcp: () => this.capability(dhcpCapability), dns: () => this.capability(dnsCapability) },
            power: { sealer: () => credentials, callTimeoutMs: config.power.callTimeoutSeconds * 1000 },
            observer: this.metrics.workflows,
          }),
      ).singleton(),
      agents: asFunction(({ db, clock }) => new AgentService({ db, clock })).singleton(),
      siteRevisions: asFunction(({ db, logger }) => new SiteRevisions({ db, kind: store.kind, logger, schema: store.schema })).singleton(),
      power: asFunction(
        ({ db, credentials, config, logger }) =>
          new PowerService({ db, sealer: credentials, config, logger, afterDispatch: () => this.services.dispatcher.kick() }),
      ).singleton(),
      images: asFunction(({ db }) => new SiteImages({ db, afterDispatch: () => this.services.dispatcher.kick() })).singleton(),
      reports: asFunction(
        ({ db, auditLog, logger }) =>
          new ReportApplier({
            db,
            engine: () => this.services.engine,
            power: () => this.services.power,
            images: () => this.services.images,
            audit: auditLog,
            logger,
            hwtests: () => this.capabilityAll(hwtestCapability),
          }),
      ).singleton(),
      dispatcher: asFunction(
        ({ db, logger }) => new OutboxDispatcher({ db, logger, transport: () => this.capability(transportCapability), intervalMs: 1000 }),
      ).singleton(),
      auditRetention: asFunction(
        ({ db, auditLog, logger, config, clock }) =>
          new AuditRetention({ db, audit: auditLog, logger, retentionDays: config.audit.retentionDays, now: () => clock.now().getTime() }),
      ).singleton(),
      watchdog: asFunction(
        ({ db, lifecycle, clock, logger, config }) =>
          new Watchdog({ db, lifecycle, clock, logger, intervalMs: config.lifecycle.watchdogIntervalSeconds * 1000 }),
      ).singleton(),
    });
    const admin = await bootstrapAdmin({
      db: store.db,
      tokens: this.services.tokens,
      audit: this.services.auditLog,
      dataDir: config.dataDir,
      adminToken: config.auth.adminToken,
    });
    if (admin.created) logger.info({ file: admin.file ?? '(from SPROUT_ADMIN_TOKEN)' }, 'created the first admin token');
    // Loaded here, not with the SDK: a site agent imports the kernel for its plugins and never serves the API.
    const { buildApp } = await import('./api/build-app.ts');
    this.app = await buildApp(this, host.routes, host.agentRoutes);
    await this.connectTransport();
    await this.services.siteRevisions.listen();
    if (this.background) {
      this.desiredStatePublisher = new DesiredStatePublisher({
        db: this.store.db,
        revisions: this.services.siteRevisions,
        transport: () => this.capability(transportCapability),
        build: (siteId) => this.desiredState(siteId),
        logger: this.logger,
      });
      await this.desiredStatePublisher.start();
      this.services.engine.start();
      this.services.watchdog.start();
      this.services.dispatcher.start();
      this.services.auditRetention.start();
      this.services.power.start();
    }
  }

  private desiredStatePublisher?: DesiredStatePublisher;

  /** Report and dead-letter handlers on the active transport; retried while it is unreachable. */
  private async connectTransport(): Promise<void> {
    const attempt = async () => {
      const transport = await this.capability(transportCapability);
      if (transport.onReports) await transport.onReports((reports) => this.services.reports.applyMany(reports).then(() => undefined));
      else await transport.onReport((report) => this.services.reports.apply(report).then(() => undefined));
      await transport.onDeadLetter((item, reason) =>
        item.stepId
          ? this.services.engine.siteStepFinished(item.stepId, { ok: false, error: `the agent at the site never completed work item ${item.id}: ${reason}` })
          : this.services.images.givenUp(item.id, reason).then((image) => (image ? undefined : this.services.power.givenUp(item.id, reason))),
      );
    };
    try {
      await attempt();
    } catch (err) {
      this.logger.error({ err }, 'agent transport unavailable; retrying in the background');
      const retry = setInterval(() => {
        if (this.stopped) return clearInterval(retry);
        attempt().then(
          () => clearInterval(retry),
          () => undefined,
        );
      }, 5000);
      retry.unref();
    }
  }

  /** Plugin id of the active provider of a capability. */
  activeProvider(capabilityId: string): string {
    return this.host?.providersOf(capabilityId)[0] ?? 'none';
  }

  /** What an agent learns at registration about reaching the transport. */
  agentTransportSettings(): { plugin: string; settings: Record<string, unknown> } {
    const plugin = this.activeProvider('transport');
    const pluginConfig = this.plugins.find((p) => p.manifest.id === plugin)?.config ?? {};
    // Agents get their own credentials (a broker user of their own, say): never the control plane's, so
    // the userinfo of every URL in the transport's settings is left out.
    const withoutUserinfo = (value: unknown): unknown => (typeof value === 'string' ? value.replace(/\/\/[^@/]*@/g, '//') : value);
    return { plugin, settings: Object.fromEntries(Object.entries(pluginConfig).map(([key, value]) => [key, withoutUserinfo(value)])) };
  }

  /** The site's desired state document, as its agents get it. */
  desiredState(siteId: string, db: Knex | Knex.Transaction = this.store.db): Promise<SiteDesiredStateDocument> {
    return desiredStateOf(db, siteId, { dhcp: () => this.capability(dhcpCapability), dns: () => this.capability(dnsCapability) });
  }

  /** The active provider of a `one` capability. */
  async capability<T>(capability: Capability<T>): Promise<T> {
    const [provider] = await this.capabilityAll(capability);
    if (!provider) {
      throw new SproutError(
        'SPROUT_ERR_CAPABILITY_UNAVAILABLE',
        `no active provider for capability ${capability.id}; install one and select it with capabilities.${capability.id}.use`,
      );
    }
    return provider;
  }

  async capabilityAll<T>(capability: Capability<T>): Promise<T[]> {
    return (await this.container.resolve<Promise<T[]> | undefined>(capabilityKey(capability.id), { allowUnregistered: true })) ?? [];
  }

  async readiness(): Promise<{ ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> }> {
    const checks: Record<string, { ok: boolean; detail?: string }> = {};
    try {
      await this.store.db.raw('select 1');
      checks.database = { ok: true, detail: this.store.kind };
      const cannotWrite = await this.writeHealth.check();
      checks.writes = cannotWrite ? { ok: false, detail: cannotWrite } : { ok: true };
      const pending = await pendingMigrations(this.store.db, this.migrationFolders);
      checks.migrations = pending.length === 0 ? { ok: true } : { ok: false, detail: `pending: ${pending.join(', ')}` };
    } catch (err) {
      checks.database = { ok: false, detail: (err as Error).message };
      checks.migrations = { ok: false, detail: 'database unreachable' };
    }
    try {
      const health = (await this.capability(transportCapability)).health();
      checks.transport = { ok: health.connected, detail: `${this.activeProvider('transport')}${health.detail ? `: ${health.detail}` : ''}` };
    } catch (err) {
      checks.transport = { ok: false, detail: (err as Error).message };
    }
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }

  async listen(): Promise<string> {
    const { host, port } = parseListen(this.config.listen);
    const address = await this.app!.listen({ host, port });
    await this.hooks.serverStarted.promise({ address });
    return address;
  }

  /**
   * Swaps in the certificate and key from `tls:` (re-read from disk) for new connections,
   * keeping the listener and open connections; on a bad file it throws and the old pair stays.
   */
  reloadTls(): { cert: string } {
    if (!this.config.tls) throw new SproutError('SPROUT_ERR_CONFIG', 'no tls: in the config: the API serves plain HTTP, there is no certificate to reload');
    const material = readTlsMaterial(this.config.tls);
    (this.app!.server as unknown as TlsServer).setSecureContext(material);
    return { cert: this.config.tls.cert };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      this.services.watchdog.stop();
      this.services.auditRetention.stop();
      await this.services.power.stop();
      await this.services.dispatcher.stop();
      await this.services.engine.stop();
      await this.desiredStatePublisher?.stop();
      await (await this.capabilityAll(transportCapability))[0]?.close();
      await this.services.siteRevisions.close();
      await this.services.workQueue.close();
      await this.hooks.serverStopping.promise();
    } finally {
      await this.app?.close();
      await this.container.dispose();
      await this.store.close();
    }
  }
}
