/**
 * The control plane's metrics: HTTP requests, workflow and step outcomes (counted as
 * they happen in this replica), and on each scrape a few aggregate queries for queue
 * depths, agent links and address usage — one query per family, never one per label.
 * IPAM usage asks the provider once per network, so it is cached between scrapes.
 */
import type { Knex } from 'knex';
import { Counter, Gauge, Histogram, createMetricsRegistry, durationBuckets, type Registry } from './registry.ts';
import type { NetworkService } from '../domain/networks/network-service.ts';

/** What the workflow engine tells the metrics; the engine runs fine without it. */
export interface WorkflowObserver {
  stepFinished(e: { kind: string; step: string; outcome: string; seconds: number }): void;
  workflowFinished(e: { kind: string; outcome: string; seconds: number }): void;
}

export interface ControlPlaneMetricsDeps {
  db: Knex;
  version: string;
  networks: () => NetworkService;
  /** Seconds since an agent's last heartbeat after which it counts as disconnected. */
  offlineAfterSeconds: number;
  now: () => Date;
  /** How long IPAM usage is reused between scrapes (default 30 s). */
  ipamCacheMs?: number;
}

export class ControlPlaneMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status_code'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly workflows: WorkflowObserver;
  private readonly gauges: Record<string, Gauge<string>>;
  private ipamCache?: { at: number; rows: Awaited<ReturnType<NetworkService['utilisationOfAll']>> };

  constructor(private readonly deps: ControlPlaneMetricsDeps) {
    const registers = [(this.registry = createMetricsRegistry('control-plane', deps.version))];
    this.httpRequests = new Counter({
      name: 'sprout_http_requests_total',
      help: 'API requests answered, by route template, method and status',
      labelNames: ['method', 'route', 'status_code'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'sprout_http_request_duration_seconds',
      help: 'Time to answer an API request, by route template and method',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30],
      registers,
    });
    const workflowsTotal = new Counter({
      name: 'sprout_workflows_total',
      help: 'Workflows that ended, by kind and outcome (succeeded, failed, cancelled)',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    const workflowDuration = new Histogram({
      name: 'sprout_workflow_duration_seconds',
      help: "Time from a workflow's creation to its end, by kind and outcome",
      labelNames: ['kind', 'outcome'],
      buckets: durationBuckets,
      registers,
    });
    const stepsTotal = new Counter({
      name: 'sprout_workflow_steps_total',
      help: 'Workflow steps that ended, by workflow kind, step and outcome',
      labelNames: ['kind', 'step', 'outcome'],
      registers,
    });
    const stepDuration = new Histogram({
      name: 'sprout_workflow_step_duration_seconds',
      help: "Time from a step's start to its end, by workflow kind, step and outcome",
      labelNames: ['kind', 'step', 'outcome'],
      buckets: durationBuckets,
      registers,
    });
    this.workflows = {
      stepFinished: ({ kind, step, outcome, seconds }) => {
        stepsTotal.inc({ kind, step, outcome });
        stepDuration.observe({ kind, step, outcome }, Math.max(0, seconds));
      },
      workflowFinished: ({ kind, outcome, seconds }) => {
        workflowsTotal.inc({ kind, outcome });
        workflowDuration.observe({ kind, outcome }, Math.max(0, seconds));
      },
    };
    const gauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers });
    this.gauges = {
      outbox: gauge('sprout_outbox_pending', 'Work items written to the outbox and not yet handed to the transport, per site', ['site']),
      inFlight: gauge('sprout_work_items_in_flight', 'Site steps handed to a site and not yet finished, per site', ['site']),
      active: gauge('sprout_workflows_active', 'Workflows not yet ended, by kind and state', ['kind', 'state']),
      deadLetters: gauge('sprout_report_dead_letters', 'Agent reports set aside after failing to apply (report_dead_letters)', []),
      backlog: gauge('sprout_agent_report_backlog', 'Reports an agent holds in its journal, not yet accepted (from its last heartbeat)', [
        'site',
        'agent',
        'hostname',
      ]),
      connected: gauge(
        'sprout_agent_connected',
        "1 while the agent's heartbeats arrive, 0 once it missed agents.offlineAfterMissed of them or never sent one",
        ['site', 'agent', 'hostname'],
      ),
      heartbeatAge: gauge('sprout_agent_last_heartbeat_age_seconds', "Seconds since the agent's last heartbeat (absent before its first)", [
        'site',
        'agent',
        'hostname',
      ]),
      lag: gauge('sprout_agent_desired_state_revision_lag', "The site's desired-state revision minus the revision the agent reports serving", [
        'site',
        'agent',
        'hostname',
      ]),
      siteRevision: gauge('sprout_site_desired_state_revision', 'The current desired-state revision of each site', ['site']),
      leases: gauge('sprout_dhcp_leases_bound', "DHCP leases bound in each network, as its site's agents reported them", ['site', 'network']),
      addresses: gauge('sprout_ipam_addresses', 'Usable addresses of each network by use: allocated, dynamic (DHCP pool), reserved, free', [
        'site',
        'network',
        'use',
      ]),
      size: gauge('sprout_ipam_addresses_usable', 'Usable host addresses in each network', ['site', 'network']),
    };
  }

  /** The registry rendered in the Prometheus text format, after refreshing the gauges. */
  async render(): Promise<string> {
    await this.refresh();
    return this.registry.metrics();
  }

  private async refresh(): Promise<void> {
    const { db } = this.deps;
    const g = this.gauges;
    for (const gauge of Object.values(g)) gauge.reset();
    const [outbox, inFlight, active, dead, agents, leases] = await Promise.all([
      db('sites as s')
        .leftJoin('outbox as o', (j) => j.on('o.site_id', 's.id').onNull('o.dispatched_at'))
        .groupBy('s.name')
        .select('s.name as site')
        .count('o.id as n'),
      db('workflow_steps as st')
        .join('workflows as w', 'w.id', 'st.workflow_id')
        .join('sites as s', 's.id', 'w.site_id')
        .where('st.kind', 'site')
        .whereIn('st.state', ['dispatched', 'running'])
        .groupBy('s.name')
        .select('s.name as site')
        .count('* as n'),
      db('workflows').whereNull('finished_at').groupBy('kind', 'state').select('kind', 'state').count('* as n'),
      db('report_dead_letters').count('* as n').first(),
      db('agents as a')
        .join('sites as s', 's.id', 'a.site_id')
        .select(
          'a.id',
          'a.hostname',
          's.name as site',
          'a.last_heartbeat_at',
          'a.desired_revision',
          's.desired_revision as site_revision',
          db.raw("a.services->'reports'->>'backlog' as backlog"),
        ),
      db('networks as n')
        .join('sites as s', 's.id', 'n.site_id')
        .leftJoin('dhcp_leases as l', (j) => j.on('l.site_id', 'n.site_id').andOnVal('l.state', 'bound').andOn(db.raw('l.address::inet <<= n.cidr')))
        .groupBy('s.name', 'n.name')
        .select('s.name as site', 'n.name as network')
        .count('l.mac as n'),
    ]);
    for (const r of outbox as { site: string; n: string | number }[]) g.outbox.set({ site: r.site }, Number(r.n));
    for (const r of inFlight as { site: string; n: string | number }[]) g.inFlight.set({ site: r.site }, Number(r.n));
    for (const r of active as { kind: string; state: string; n: string | number }[]) g.active.set({ kind: r.kind, state: r.state }, Number(r.n));
    g.deadLetters.set(Number((dead as { n?: string | number } | undefined)?.n ?? 0));
    const now = this.deps.now().getTime();
    for (const a of agents as {
      id: string;
      hostname: string;
      site: string;
      last_heartbeat_at: Date | string | null;
      desired_revision: string | number | null;
      site_revision: string | number;
      backlog: string | null;
    }[]) {
      const labels = { site: a.site, agent: a.id, hostname: a.hostname };
      const age = a.last_heartbeat_at ? (now - new Date(a.last_heartbeat_at).getTime()) / 1000 : undefined;
      g.connected.set(labels, age !== undefined && age <= this.deps.offlineAfterSeconds ? 1 : 0);
      if (age !== undefined) g.heartbeatAge.set(labels, Math.max(0, age));
      if (a.desired_revision !== null) g.lag.set(labels, Number(a.site_revision) - Number(a.desired_revision));
      if (a.backlog !== null && a.backlog !== undefined) g.backlog.set(labels, Number(a.backlog));
    }
    for (const r of (await db('sites').select('name', 'desired_revision')) as { name: string; desired_revision: string | number }[])
      g.siteRevision.set({ site: r.name }, Number(r.desired_revision));
    for (const r of leases as { site: string; network: string; n: string | number }[]) g.leases.set({ site: r.site, network: r.network }, Number(r.n));
    for (const n of await this.ipamUsage()) {
      const labels = { site: n.site.name, network: n.name };
      g.size.set(labels, n.utilisation.total);
      for (const use of ['allocated', 'dynamic', 'reserved', 'free'] as const) g.addresses.set({ ...labels, use }, n.utilisation[use]);
    }
  }

  private async ipamUsage() {
    const now = Date.now();
    if (!this.ipamCache || now - this.ipamCache.at > (this.deps.ipamCacheMs ?? 30_000)) {
      this.ipamCache = { at: now, rows: await this.deps.networks().utilisationOfAll() };
    }
    return this.ipamCache.rows;
  }
}
