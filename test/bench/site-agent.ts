/**
 * A site agent in its own process for the provisioning suite, as `sprout agent run`
 * runs it: DHCP (answering the simulator's relay), TFTP, HTTP boot and DNS on loopback
 * ports, logging at warn to stdout.
 *
 *   node --import ./kernel/src/preload.js --import tsx test/bench/site-agent.ts '{"controlPlaneUrl":…,"joinToken":…,"dataDir":…,"services":{…}}'
 *
 * Prints `ready` once started; stops on SIGTERM.
 */
import pino from 'pino';
import { SiteAgent } from '@sprout/agent';

const spec = JSON.parse(process.argv[2]) as { controlPlaneUrl: string; joinToken: string; dataDir: string; services: Record<string, Record<string, unknown>> };
const agent = new SiteAgent({ ...spec, hostname: 'bench-agent', logger: pino({ level: 'warn', base: { service: 'sprout-agent' } }) });
await agent.start();
console.log('ready');
let stopping = false;
process.on('SIGTERM', async () => {
  if (stopping) return;
  stopping = true;
  await agent.stop().catch((err) => console.error(err));
  console.log('stopped');
  process.exit(0);
});
