/**
 * One of the agent's site services (dhcp, dns or tftp) alone in its own process, as the
 * agent runs it: the plugin's service factory, the agent's report journal (appended to
 * disk per report, "sent" to a control plane that accepts everything at once) and a
 * fixed desired state. The bench starts it inside a namespace or on loopback so the
 * load tool and the server each get their own process, like the peers.
 *
 * Plain JavaScript run by plain node, on the compiled code (the bench runner builds
 * first): DHCP and DNS come from their plugins' exported agent parts, as the agent loads
 * them. The TFTP service and the report journal are the agent's own and @sprout/agent
 * exports neither, so they are imported from its dist/ by path — the same compiled files
 * `sprout agent run` loads.
 *
 *   node test/bench/sprout-service.mjs '{"service":"dns","settings":{…},"state":{…},"dataDir":"…"}'
 *
 * Prints `ready <health JSON>` once listening; on SIGTERM stops the service and prints
 * `final <health JSON>` (with the report counts) before exiting.
 */
import { mkdirSync } from 'node:fs';
import { ReportJournal } from '../../agent/dist/report-journal.js';

/** @typedef {{ service: 'dhcp' | 'dns' | 'tftp'; settings: Record<string, unknown>; state: object; dataDir: string }} Spec */

/** @type {Spec} */
const spec = JSON.parse(process.argv[2]);
mkdirSync(spec.dataDir, { recursive: true });

/** A plugin's site service, from the agent part its default export gives (what the agent's plugin loader calls). */
const pluginService = async (/** @type {string} */ name, /** @type {string} */ service) => (await (await import(name)).default.agent()).services[service];
const factories = {
  dhcp: () => pluginService('@sprout/plugin-dhcp-builtin', 'dhcp'),
  dns: () => pluginService('@sprout/plugin-dns-builtin', 'dns'),
  tftp: async () => (await import('../../agent/dist/services/tftp/service.js')).tftpService,
};

/** @type {Record<string, number>} */
const reportCounts = {};
const journal = new ReportJournal(spec.dataDir, { agentId: 'bench-agent', siteId: 'bench-site' }, async () => undefined);
const quiet = {
  info: () => undefined,
  warn: () => undefined,
  error: (/** @type {object} */ o, /** @type {string} */ m) => console.error(m, JSON.stringify(o)),
};

const running = await (await factories[spec.service]())({
  dataDir: spec.dataDir,
  settings: spec.settings,
  desiredState: () => spec.state,
  onDesiredState: () => undefined,
  report: (/** @type {string} */ kind, /** @type {unknown} */ payload) => {
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
