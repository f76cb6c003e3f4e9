/**
 * A site agent in its own process for the provisioning and scale suites, as `sprout agent
 * run` runs it: DHCP (answering the simulator's relay), TFTP, HTTP boot and DNS on loopback
 * ports, logging at warn to stdout — or, given `logFile`, at info to that file (the scale
 * suite counts the `work item … started` lines in it). Plain JavaScript run by plain node:
 * @sprout/agent resolves to its compiled dist/ (the bench runner builds first).
 *
 *   node test/bench/site-agent.mjs '{"controlPlaneUrl":…,"joinToken":…,"dataDir":…,"services":{…}}'
 *
 * Prints `ready` once started; stops on SIGTERM and prints `stopped`.
 */
import pino from 'pino';
import { SiteAgent } from '@sprout/agent';

/** @type {{ controlPlaneUrl: string; joinToken: string; dataDir: string; services: Record<string, Record<string, unknown>>; hostname?: string; logFile?: string }} */
const { logFile, hostname, ...spec } = JSON.parse(process.argv[2]);
const logger = logFile
  ? pino({ level: 'info', base: { service: 'sprout-agent' } }, pino.destination({ dest: logFile, sync: false, mkdir: true }))
  : pino({ level: 'warn', base: { service: 'sprout-agent' } });
const agent = new SiteAgent({ ...spec, hostname: hostname ?? 'bench-agent', logger });
await agent.start();
console.log('ready');
// BENCH_MEMORY_LOG=<file>: the agent's memory by kind (heap, external, array buffers) every second, to see what its peak RSS holds.
if (process.env.BENCH_MEMORY_LOG) {
  const { appendFileSync } = await import('node:fs');
  setInterval(() => appendFileSync(process.env.BENCH_MEMORY_LOG, `${JSON.stringify({ t: Date.now(), ...process.memoryUsage() })}\n`), 1000).unref();
}
let stopping = false;
process.on('SIGTERM', async () => {
  if (stopping) return;
  stopping = true;
  await agent.stop().catch((err) => console.error(err));
  await new Promise((resolve) => logger.flush(() => resolve(undefined)));
  console.log('stopped');
  process.exit(0);
});
