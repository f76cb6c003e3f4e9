/**
 * One of the agent's site services (dhcp, dns or tftp) alone in its own process, as the
 * agent runs it: the plugin's service factory, the agent's report journal (appended to
 * disk per report, "sent" to a control plane that accepts everything at once) and a
 * fixed desired state. The bench starts it inside a namespace or on loopback so the
 * load tool and the server each get their own process, like the peers.
 *
 *   node --import ./kernel/src/preload.js --import tsx test/bench/sprout-service.ts '{"service":"dns","settings":{…},"state":{…},"dataDir":"…"}'
 *
 * Prints `ready <health JSON>` once listening; on SIGTERM stops the service and prints
 * `final <health JSON>` (with the report counts) before exiting.
 */
import { mkdirSync } from 'node:fs';
import type { AgentServiceFactory, SiteDesiredState } from '@sprout/kernel';
import { ReportJournal } from '../../agent/src/report-journal.ts';

interface Spec {
  service: 'dhcp' | 'dns' | 'tftp';
  settings: Record<string, unknown>;
  state: SiteDesiredState;
  dataDir: string;
}

const spec = JSON.parse(process.argv[2]) as Spec;
mkdirSync(spec.dataDir, { recursive: true });

const factories: Record<Spec['service'], () => Promise<AgentServiceFactory>> = {
  dhcp: async () => (await import('../../plugins/dhcp-builtin/src/agent/dhcp-service.ts')).dhcpService,
  dns: async () => (await import('../../plugins/dns-builtin/src/agent/dns-service.ts')).dnsService,
  tftp: async () => (await import('../../agent/src/services/tftp/service.ts')).tftpService,
};

const reportCounts: Record<string, number> = {};
const journal = new ReportJournal(spec.dataDir, { agentId: 'bench-agent', siteId: 'bench-site' }, async () => undefined);
const quiet = { info: () => undefined, warn: () => undefined, error: (o: object, m?: string) => console.error(m, JSON.stringify(o)) };

const running = await (await factories[spec.service]())({
  dataDir: spec.dataDir,
  settings: spec.settings,
  desiredState: () => spec.state,
  onDesiredState: () => undefined,
  report: (kind, payload) => {
    reportCounts[kind] = (reportCounts[kind] ?? 0) + 1;
    // BENCH_REPORTS=count (a diagnosis, never a recorded figure) leaves the journal out, to see what it costs.
    if (process.env.BENCH_REPORTS !== 'count') journal.add(kind, payload);
  },
  logger: quiet,
});
console.log(`ready ${JSON.stringify(running.health())}`);

let stopping = false;
process.on('SIGTERM', async () => {
  if (stopping) return;
  stopping = true;
  const health = running.health();
  await running.stop();
  await journal.close();
  console.log(`final ${JSON.stringify({ ...health, reports: reportCounts })}`);
  process.exit(0);
});
