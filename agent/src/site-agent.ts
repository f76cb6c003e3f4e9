/**
 * The site agent: joins its site (or reuses its identity), heartbeats, consumes the
 * site's work through the transport the control plane chose, runs it, and reports back
 * through a journal that survives restarts and outages.
 */
import { ensurePrivateDir, trustProcessWide } from '@sprout/kernel/sdk';
import { join } from 'node:path';
import type { AgentTransport } from '@sprout/kernel/sdk';
import { loadIdentity, saveIdentity, type AgentIdentity } from './credentials.ts';
import { DesiredStateStore } from './desired-state-store.ts';
import { DesiredStateFollower } from './desired-state-follower.ts';
import { TaskExecutor } from './executor.ts';
import { loadAgentParts } from './plugin-parts.ts';
import { register } from './register.ts';
import { refuseConfig, serviceSettingsProblems } from './agent-config.ts';
import { ReportJournal } from './report-journal.ts';
import { syncSiteTask } from './tasks/sync-site.ts';
import { ServiceHost } from './service-host.ts';
import { MachineWaits, waitForMachine } from './machine-waits.ts';
import { firstBootTask, watchFirstBootDeadlines } from './first-boot.ts';
import { PowerRunner } from './power/power-runner.ts';
import { PowerWaits } from './power/power-waits.ts';
import { powerTasks } from './power/power-tasks.ts';
import { tftpService } from './services/tftp/index.ts';
import { httpBootService } from './services/http-boot/index.ts';
import { raService } from './services/ra/index.ts';
import { ImageStore } from './images/image-store.ts';
import { imageTasks } from './images/image-tasks.ts';
import type { AgentMetrics } from './metrics/agent-metrics.ts';
import { listenForMetrics, parseMetricsSettings, type MetricsSettings } from './metrics/metrics-listener.ts';
import type { Server } from 'node:http';

export const agentVersion = '0.1.0';

export interface SiteAgentOptions {
  controlPlaneUrl: string;
  dataDir: string;
  joinToken?: string;
  hostname?: string;
  pluginDir?: string;
  /**
   * PEM file of a private CA the control plane's certificate chains to (`ca:` in agent.yaml,
   * `--ca`): trusted, on top of the system store, by every HTTPS request of this process.
   */
  ca?: string;
  /** Local overrides of the transport settings the control plane sent (e.g. this site's own NATS URL). */
  transportSettings?: Record<string, unknown>;
  /** Site services to run (`services.<name>` of the agent config): ports, interfaces, folders. */
  services?: Record<string, Record<string, unknown>>;
  /** `metrics` of the agent config: where to serve GET /metrics (docs/metrics.md); none by default. */
  metrics?: MetricsSettings;
  logger: {
    info(o: object, m?: string): void;
    warn(o: object, m?: string): void;
    error(o: object, m?: string): void;
    debug?(o: object, m?: string): void;
    child?(bindings: Record<string, unknown>): SiteAgentOptions['logger'];
  };
}

export class SiteAgent {
  identity!: AgentIdentity;
  private transport?: AgentTransport;
  private journal?: ReportJournal;
  private executor?: TaskExecutor;
  private serviceHost?: ServiceHost;
  private heartbeat?: NodeJS.Timeout;
  private stopFirstBootWatch?: () => void;
  private follower?: DesiredStateFollower;
  private store?: DesiredStateStore;
  private beatSoon?: NodeJS.Timeout;
  private beating?: Promise<void>;
  /** Asked for while one was in flight: one more follows it (a newer revision to tell). */
  private beatAgain = false;
  private lastHeartbeatError = '';
  /** The images HTTP boot serves (`services.http.artifactRoot`); none without that service. */
  private images?: ImageStore;
  private stopped = false;
  /**
   * Counts what no heartbeat carries; the rest is read from services() on each scrape.
   * Only with `metrics.listen`: prom-client is loaded for it then, never by an agent that serves no metrics.
   */
  metrics?: AgentMetrics;
  private metricsServer?: Server;
  /** Where GET /metrics is served, once started with `metrics.listen`. */
  metricsUrl?: string;

  constructor(private readonly options: SiteAgentOptions) {}

  async start(): Promise<void> {
    const { options } = this;
    // A bad setting is named before the join token is spent or any socket opened.
    refuseConfig('services: in the agent config', await serviceSettingsProblems(options.services ?? {}, options.pluginDir ?? join(options.dataDir, 'plugins')));
    if (options.ca) await trustProcessWide(options.ca, 'ca');
    // A bad metrics setting stops the agent before it uses its join token.
    const metricsAt = parseMetricsSettings(options.metrics);
    if (metricsAt) this.metrics = new (await import('./metrics/agent-metrics.ts')).AgentMetrics(agentVersion);
    ensurePrivateDir(options.dataDir, (message) => options.logger.warn({ dir: options.dataDir }, message));
    const known = loadIdentity(options.dataDir);
    if (known) {
      this.identity = known;
      options.logger.info({ agent: known.agentId, site: known.siteName }, 'reusing the agent identity in the data directory');
      if (options.controlPlaneUrl && options.controlPlaneUrl !== known.controlPlaneUrl) {
        // The control plane moved (new address or port): the URL given now wins and is kept.
        options.logger.info(
          { from: known.controlPlaneUrl, to: options.controlPlaneUrl },
          'the control plane URL changed since registration; using the new one',
        );
        this.identity = { ...known, controlPlaneUrl: options.controlPlaneUrl };
        saveIdentity(options.dataDir, this.identity);
      }
    } else {
      if (!options.joinToken)
        throw new Error(`no agent identity in ${options.dataDir} and no --join-token to register with; get one with \`sprout site join-token <site>\``);
      this.identity = await register({
        controlPlaneUrl: options.controlPlaneUrl,
        joinToken: options.joinToken,
        hostname: options.hostname,
        version: agentVersion,
        capabilities: ['sync-site'],
      });
      saveIdentity(options.dataDir, this.identity);
      options.logger.info({ agent: this.identity.agentId, site: this.identity.siteName }, 'registered with the control plane');
    }
    const store = (this.store = new DesiredStateStore(options.dataDir));
    const follower = (this.follower = new DesiredStateFollower({
      controlPlaneUrl: this.identity.controlPlaneUrl,
      agentId: this.identity.agentId,
      credential: this.identity.credential,
      store,
      report: (kind, payload) => this.journal?.add(kind, payload),
      // The control plane hears of a new revision (or a refusal) within a second, not at the next heartbeat.
      onOutcome: () => this.beatSoonish(),
      logger: options.logger,
    }));
    const parts = await loadAgentParts(this.identity.transport.plugin, options.pluginDir ?? join(options.dataDir, 'plugins'));
    for (const problem of parts.problems) options.logger.warn({ problem }, 'a plugin agent part could not be loaded');
    // Plugins may replace a builtin task (say, to apply state to their own services).
    const waits = new MachineWaits(options.dataDir);
    const waitForIt = waitForMachine(waits);
    /** A report about a work item that finished outside its task (a machine's callback, a sighting): on disk before anything answers. */
    const reportFor = (workItemId: string, kind: string, payload: Record<string, unknown>) => {
      this.journal!.add(kind, payload, workItemId);
      this.journal!.writeOut();
    };
    // A manually powered machine's power-on ends when a site service sees it boot.
    const powerWaits = new PowerWaits(options.dataDir, (wait, mac, via) => {
      const seen = via === 'dhcp' ? 'a DHCP request of its network boot' : via === 'http' ? 'its iPXE script request' : `a ${via} request`;
      reportFor(wait.workItemId, 'power.state', { machineId: wait.machineId, state: 'on', error: null });
      reportFor(wait.workItemId, 'task.succeeded', {
        result: { driver: 'manual', was: 'unknown', action: 'on', seen: via },
        log: [`${wait.hostname} is up: saw ${seen} from ${mac}`],
      });
    });
    this.stopFirstBootWatch = watchFirstBootDeadlines(waits, reportFor);
    const artifactRoot = options.services?.http?.artifactRoot;
    // A new or removed image reaches the control plane within a second, not at the next heartbeat.
    if (typeof artifactRoot === 'string')
      this.images = new ImageStore({ artifactRoot, dataDir: options.dataDir, onChange: () => this.beatSoonish(), logger: options.logger });
    const tasks = new Map([
      ['sync-site', syncSiteTask(follower)],
      ...Object.entries(
        powerTasks(
          new PowerRunner(parts.power, (call) => {
            this.metrics?.powerCall(call);
            // A state read runs at every power poll: only actions, and failures, are news.
            const line = {
              machine: call.machine,
              hostname: call.hostname,
              driver: call.driver,
              action: call.action,
              outcome: call.outcome,
              ...(call.error ? { err: call.error } : {}),
            };
            if (call.outcome === 'failed') options.logger.warn(line, `power ${call.action} ${call.hostname} failed`);
            else if (call.action === 'state') options.logger.debug?.(line, `power state of ${call.hostname} read`);
            else options.logger.info(line, `power ${call.action} ${call.hostname}`);
          }),
          powerWaits,
        ),
      ),
      ['commission', waitForIt],
      ['run-hardware-tests', waitForIt],
      ['install', waitForIt],
      ['erase', waitForIt],
      ['first-boot', firstBootTask(waits)],
      ...Object.entries(this.images ? imageTasks(this.images) : {}),
      ...parts.tasks,
    ]);
    this.transport = await parts.transport({
      controlPlaneUrl: this.identity.controlPlaneUrl,
      agentId: this.identity.agentId,
      siteId: this.identity.siteId,
      credential: this.identity.credential,
      settings: { ...this.identity.transport.settings, ...options.transportSettings },
      logger: options.logger,
    });
    const transport = this.transport;
    this.journal = new ReportJournal(options.dataDir, this.identity, (reports) => transport.publishReports(reports));
    this.serviceHost = new ServiceHost({
      dataDir: options.dataDir,
      settings: options.services ?? {},
      // Builtin services first; a plugin may offer its own under the same name.
      factories: new Map([
        ['tftp', tftpService],
        ['ra', raService],
        // A machine's callback is answered, and its token revoked, only once its report is on disk.
        [
          'http',
          httpBootService({
            waits,
            reportFor,
            markInstalled: (machineId, workflow) => store.markInstalled(machineId, workflow),
          }),
        ],
        ...parts.services,
      ]),
      desiredState: () => store.get(),
      report: (kind, payload) => this.journal!.add(kind, payload),
      sightings: powerWaits,
      logger: options.logger,
      metrics: this.metrics?.registry,
    });
    store.onChange((state) => this.serviceHost!.desiredStateChanged(state));
    // A restarted agent serves the current state from its first answer, not its file's (unless the control plane is away).
    await follower.catchUp(5_000);
    store.flush();
    await this.serviceHost.start();
    // Through the transport's own channel when it has one (NATS: a JetStream watch), else by HTTP long poll.
    follower.start(this.transport.watchDesiredState?.bind(this.transport));
    this.executor = new TaskExecutor({
      dataDir: options.dataDir,
      tasks,
      journal: this.journal,
      desiredState: () => store.get(),
      reachRevision: (revision) => follower.reach(revision, 60_000),
      // The desired state is not among them: a task that changes it (sync-site) writes it itself.
      persist: () => {
        waits.flush();
        powerWaits.flush();
      },
      logger: options.logger,
      observe: (task, outcome) => this.metrics?.workItem(task, outcome),
    });
    if (metricsAt && this.metrics) {
      const metrics = this.metrics;
      const { server, url } = await listenForMetrics(metricsAt, () =>
        metrics.render({ services: this.services(), revision: this.follower?.revision() ?? null }),
      );
      this.metricsServer = server;
      this.metricsUrl = url;
      options.logger.info({ url }, 'metrics: serving');
    }
    if (this.journal.backlog > 0) options.logger.info({ reports: this.journal.backlog }, 'replaying journaled reports');
    void this.journal.flush();
    await this.transport.consumeWork((item, delivery) => this.executor!.handle(item, delivery));
    await this.beat();
    this.heartbeat = setInterval(() => void this.beat(), this.identity.heartbeatSeconds * 1000);
  }

  /** Site services and link state, as the heartbeat reports them. */
  services(): Record<string, unknown> {
    return {
      transport: { plugin: this.identity.transport.plugin, ...this.transport?.health() },
      reports: {
        backlog: this.journal?.backlog ?? 0,
        lastError: this.journal?.lastError || null,
        rejected: this.journal?.rejected ?? 0,
        lastRejection: this.journal?.lastRejection || null,
      },
      ...this.serviceHost?.health(),
      executor: { busy: this.busy(), running: this.executor?.running.size ?? 0 },
    };
  }

  /** Configured site services that could not start, with why (a port taken, an interface missing). */
  failedServices(): Record<string, string> {
    return this.serviceHost?.failures() ?? {};
  }

  /** The longest-running work item, if any. */
  private busy(): { item: string; kind: string; since: string } | null {
    const [oldest] = this.executor?.running.values() ?? [];
    return oldest ? { item: oldest.item.id, kind: oldest.item.kind, since: oldest.since.toISOString() } : null;
  }

  private beatSoonish(): void {
    if (this.stopped) return;
    this.beatSoon ??= setTimeout(() => {
      this.beatSoon = undefined;
      void this.beat();
    }, 500);
  }

  private beat(): Promise<void> {
    // One heartbeat at a time: a busy control plane answering slowly got a pile of them,
    // each holding a database connection while it waited for the agent's row.
    if (this.beating) {
      this.beatAgain = true;
      return this.beating;
    }
    this.beating = this.sendBeat().finally(() => {
      this.beating = undefined;
      if (this.beatAgain) {
        this.beatAgain = false;
        this.beatSoonish();
      }
    });
    return this.beating;
  }

  private async sendBeat(): Promise<void> {
    if (this.stopped) return;
    const url = new URL(`v1/agents/${this.identity.agentId}/heartbeat`, `${this.identity.controlPlaneUrl.replace(/\/$/, '')}/`);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.identity.credential}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          version: agentVersion,
          capabilities: this.executor?.kinds() ?? [],
          services: this.services(),
          desiredState: { revision: this.follower?.revision() ?? null, error: this.follower?.error ?? null },
          ...(this.images ? { images: this.images.list() } : {}),
        }),
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}: ${(await response.text()).slice(0, 300)}`);
      if (this.lastHeartbeatError) this.options.logger.info({}, 'heartbeats reach the control plane again');
      this.lastHeartbeatError = '';
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.lastHeartbeatError) this.options.logger.warn({ err: message }, 'heartbeat failed; serving from the last desired state');
      this.lastHeartbeatError = message;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.stopFirstBootWatch?.();
    if (this.beatSoon) clearTimeout(this.beatSoon);
    await this.follower?.stop();
    await this.serviceHost?.stop();
    if (this.metricsServer) await new Promise<void>((resolve) => this.metricsServer!.close(() => resolve()));
    await this.transport?.close();
    await this.journal?.close();
    this.store?.close();
  }
}
