/**
 * The agent's Prometheus metrics. Most counters are the ones its heartbeat already
 * carries (each site service's health()): they are read from that snapshot on every
 * scrape, never counted a second time. The agent itself counts only what no heartbeat
 * holds: work items by outcome and power driver calls.
 */
import { Counter, Gauge, createMetricsRegistry, type Registry } from '@sprout/kernel/metrics';
import type { PowerCallOutcome } from '../power/power-runner.ts';

/** What a scrape reads: the heartbeat's `services` and the revision the agent serves. */
export interface AgentSnapshot {
  services: Record<string, unknown>;
  revision: number | null;
}

type Health = Record<string, unknown> | undefined;
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const record = (v: unknown): Record<string, number> =>
  v && typeof v === 'object' ? (Object.fromEntries(Object.entries(v).filter(([, n]) => num(n) !== undefined)) as Record<string, number>) : {};

export class AgentMetrics {
  readonly registry: Registry;
  private readonly workItems: Counter<'task' | 'outcome'>;
  private readonly powerCalls: Counter<'driver' | 'action' | 'outcome'>;
  /** Metrics whose values are copied from the snapshot on each scrape. */
  private readonly copied: { metric: Counter<string> | Gauge<string>; read: (s: AgentSnapshot) => [Record<string, string>, number][] }[] = [];

  constructor(version: string) {
    const registers = [(this.registry = createMetricsRegistry('agent', version))];
    this.workItems = new Counter({
      name: 'sprout_agent_work_items_total',
      help: 'Work items this agent ran, by task and outcome (deferred: handed to a machine, which ends it by calling back)',
      labelNames: ['task', 'outcome'],
      registers,
    });
    this.powerCalls = new Counter({
      name: 'sprout_agent_power_actions_total',
      help: 'Power driver calls, by driver (bmc.type), action and outcome',
      labelNames: ['driver', 'action', 'outcome'],
      registers,
    });
    const counter = (name: string, help: string, labelNames: string[], read: (s: AgentSnapshot) => [Record<string, string>, number][]) =>
      this.copied.push({ metric: new Counter({ name, help, labelNames, registers }), read });
    const gauge = (name: string, help: string, labelNames: string[], read: (s: AgentSnapshot) => [Record<string, string>, number][]) =>
      this.copied.push({ metric: new Gauge({ name, help, labelNames, registers }), read });
    const svc = (s: AgentSnapshot, name: string) => s.services[name] as Health;
    const one = (v: unknown, labels: Record<string, string> = {}): [Record<string, string>, number][] => (num(v) === undefined ? [] : [[labels, num(v)!]]);
    const each = (v: unknown, label: string): [Record<string, string>, number][] => Object.entries(record(v)).map(([k, n]) => [{ [label]: k }, n]);

    gauge('sprout_agent_service_up', '1 for each configured site service that runs, 0 for one that failed to start', ['service'], (s) =>
      Object.entries(s.services)
        .filter(([, h]) => h && typeof h === 'object' && 'state' in h)
        .map(([name, h]) => [{ service: name }, (h as { state: string }).state === 'running' ? 1 : 0]),
    );
    gauge('sprout_agent_desired_state_revision', 'The desired-state revision this agent serves', [], (s) => one(s.revision));
    gauge('sprout_agent_transport_connected', "1 while the agent's transport to the control plane is connected", [], (s) => {
      const t = svc(s, 'transport');
      return typeof t?.connected === 'boolean' ? [[{}, t.connected ? 1 : 0]] : [];
    });
    gauge('sprout_agent_report_backlog', 'Reports journaled and not yet accepted by the control plane', [], (s) => one(svc(s, 'reports')?.backlog));
    counter('sprout_agent_reports_rejected_total', 'Reports the control plane refused', [], (s) => one(svc(s, 'reports')?.rejected));
    gauge('sprout_agent_work_items_running', 'Work items running now', [], (s) => one(svc(s, 'executor')?.running));

    counter(
      'sprout_agent_dhcp_messages_total',
      'DHCP messages by type: received (discover, request, decline, release, inform) and sent (offer, ack, nak)',
      ['type'],
      (s) => each(svc(s, 'dhcp')?.messages, 'type'),
    );
    counter('sprout_agent_dhcp_packets_received_total', 'UDP datagrams the DHCP server received', [], (s) => one(svc(s, 'dhcp')?.received));
    counter('sprout_agent_dhcp_packets_malformed_total', 'Datagrams that were not well-formed DHCP messages', [], (s) => one(svc(s, 'dhcp')?.malformed));
    counter('sprout_agent_dhcp_ignored_total', 'DHCP messages left unanswered, by reason', ['reason'], (s) => each(svc(s, 'dhcp')?.ignored, 'reason'));
    counter('sprout_agent_dhcp_errors_total', 'DHCP messages that failed while being answered', [], (s) => one(svc(s, 'dhcp')?.errors));
    counter('sprout_agent_dhcp_lease_commits_total', "Lease journal writes (each fsync'ed before its ACKs left)", [], (s) => one(svc(s, 'dhcp')?.leaseCommits));
    gauge('sprout_agent_dhcp_leases', 'DHCP leases held, by state: bound, offered, quarantined (declined addresses)', ['state'], (s) => {
      const d = svc(s, 'dhcp');
      return [...one(d?.leases, { state: 'bound' }), ...one(d?.offers, { state: 'offered' }), ...one(d?.quarantined, { state: 'quarantined' })];
    });

    counter('sprout_agent_dns_queries_total', 'DNS queries received', [], (s) => one(svc(s, 'dns')?.queriesReceived));
    counter('sprout_agent_dns_responses_total', 'DNS answers sent, by response code', ['rcode'], (s) => each(svc(s, 'dns')?.byRcode, 'rcode'));
    counter('sprout_agent_dns_malformed_queries_total', 'DNS queries that could not be parsed', [], (s) => one(svc(s, 'dns')?.malformedQueries));
    counter('sprout_agent_dns_truncated_total', 'DNS answers truncated for UDP', [], (s) => one(svc(s, 'dns')?.truncated));
    gauge('sprout_agent_dns_records', 'DNS records served', [], (s) => one(svc(s, 'dns')?.records));

    counter('sprout_agent_tftp_transfers_total', 'TFTP transfers that ended, by outcome (completed, failed, aborted by the client)', ['outcome'], (s) => {
      const f = svc(s, 'tftp');
      return [
        ...one(f?.completedTransfers, { outcome: 'completed' }),
        ...one(f?.failedTransfers, { outcome: 'failed' }),
        ...one(f?.abortedByClient, { outcome: 'aborted' }),
      ];
    });
    counter('sprout_agent_tftp_requests_refused_total', 'TFTP requests refused', [], (s) => one(svc(s, 'tftp')?.refusedRequests));
    counter('sprout_agent_tftp_sent_bytes_total', 'Bytes of boot files sent over TFTP', [], (s) => one(svc(s, 'tftp')?.bytesSent));
    gauge('sprout_agent_tftp_transfers_active', 'TFTP transfers in progress', [], (s) => one(svc(s, 'tftp')?.activeTransfers));

    counter(
      'sprout_agent_http_boot_requests_total',
      'HTTP boot requests, by kind: script, artifact, metadata, callback, nocloud, waiting (a script telling iPXE to retry)',
      ['kind'],
      (s) => {
        const h = svc(s, 'http');
        const kinds = { script: h?.scripts, artifact: h?.artifacts, metadata: h?.metadata, callback: h?.callbacks, nocloud: h?.nocloud, waiting: h?.waiting };
        return Object.entries(kinds).flatMap(([kind, v]) => one(v, { kind }));
      },
    );
    counter('sprout_agent_http_boot_refused_total', 'Boots refused (no boot intent, or not from the address the MAC was leased)', [], (s) =>
      one(svc(s, 'http')?.refused),
    );
    counter('sprout_agent_http_boot_not_found_total', 'HTTP boot requests for a route or artifact that does not exist', [], (s) =>
      one(svc(s, 'http')?.notFound),
    );
  }

  /** A work item ended here (see TaskExecutor). */
  workItem(task: string, outcome: 'succeeded' | 'failed' | 'deferred'): void {
    this.workItems.inc({ task, outcome });
  }

  /** A power driver call ended (see PowerRunner). */
  powerCall(call: PowerCallOutcome): void {
    this.powerCalls.inc({ driver: call.driver, action: call.action, outcome: call.outcome });
  }

  /** The registry in the Prometheus text format, the copied values read from `snapshot` now. */
  async render(snapshot: AgentSnapshot): Promise<string> {
    for (const { metric, read } of this.copied) {
      metric.reset();
      for (const [labels, value] of read(snapshot)) {
        if (metric instanceof Counter) metric.inc(labels, value);
        else metric.set(labels, value);
      }
    }
    return this.registry.metrics();
  }
}
