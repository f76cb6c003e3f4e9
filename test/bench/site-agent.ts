/**
 * A site agent in its own process for the provisioning suite, as `sprout agent run`
 * runs it: DHCP (answering the simulator's relay), TFTP, HTTP boot and DNS on loopback
 * ports, logging at warn to stdout — or, given `logFile`, at info to that file (the scale
 * suite counts the `work item … started` lines in it).
 *
 *   node --import ./kernel/src/preload.js --import tsx test/bench/site-agent.ts '{"controlPlaneUrl":…,"joinToken":…,"dataDir":…,"services":{…}}'
 *
 * Prints `ready` once started; stops on SIGTERM.
 */
import pino from 'pino';
import { SiteAgent } from '@sprout/agent';

const { logFile, hostname, ...spec } = JSON.parse(process.argv[2]) as {
  controlPlaneUrl: string;
  joinToken: string;
  dataDir: string;
  services: Record<string, Record<string, unknown>>;
  hostname?: string;
  logFile?: string;
};
const logger = logFile
  ? pino({ level: 'info', base: { service: 'sprout-agent' } }, pino.destination({ dest: logFile, sync: false, mkdir: true }))
  : pino({ level: 'warn', base: { service: 'sprout-agent' } });
const agent = new SiteAgent({ ...spec, hostname: hostname ?? 'bench-agent', logger });
await agent.start();
console.log('ready');
let stopping = false;
process.on('SIGTERM', async () => {
  if (stopping) return;
  stopping = true;
  await agent.stop().catch((err) => console.error(err));
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  console.log('stopped');
  process.exit(0);
});
