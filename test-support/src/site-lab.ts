/**
 * A control plane with one site ("lab") and its PXE network, plus a way to start the
 * site's agent with a `services:` block: what process-level provisioning tests share.
 * Everything is removed at teardown.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './until.ts';
import { freePort, spawnSprout, sprout, startServer, type LongRunning, type ServerProcess } from './processes.ts';

export interface SiteLab {
  server: ServerProcess;
  /** A scratch folder removed at teardown. */
  work: string;
  cli(...args: string[]): ReturnType<typeof sprout>;
  /** Starts the site's agent with these `services:` lines (YAML, two-space indented). */
  startAgent(services: string[]): Promise<LongRunning>;
  /** The REST API with the admin token, for tests that would otherwise spawn many CLIs; throws on a non-2xx answer. */
  api<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  /** Until the site's agent has reported image `name` (a deploy by name is refused before). */
  imageReported(name: string): Promise<void>;
}

export interface SiteLabOptions {
  /** More lines for the server's sprout.yaml, e.g. short `lifecycle:` timeouts. */
  serverYaml?: string;
  /** Environment of the server and the CLI, e.g. SPROUT_DATABASE_URL and SPROUT_NATS_URL. */
  env?: Record<string, string>;
  /** More top-level lines for the agent's config, e.g. `pluginDir: …` for a test's plugins. */
  agentYaml?: string[];
}

/** What a lab needs of its test: a place to leave its cleanup (an ava test, or a file's shared setup in `test.before`). */
export interface Teardowns {
  teardown(fn: () => unknown): void;
}

export async function siteLab(t: Teardowns, subnet: string, options: SiteLabOptions = {}): Promise<SiteLab> {
  const server = await startServer(options.env ?? {}, `agents: { heartbeatSeconds: 0.5 }\n${options.serverYaml ?? ''}`);
  const work = mkdtempSync(join(tmpdir(), 'sprout-lab-'));
  const agents: LongRunning[] = [];
  t.teardown(async () => {
    for (const agent of agents) await agent.stop('SIGTERM');
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  });
  const cli = (...args: string[]) => sprout(args, { cwd: server.dir, env: server.env });
  const site = JSON.parse((await cli('site', 'create', 'lab', '--json')).stdout);
  const network = await cli(
    'network',
    'create',
    '--site',
    'lab',
    '--name',
    'prov',
    '--cidr',
    `${subnet}.0/24`,
    '--gateway',
    `${subnet}.1`,
    '--domain',
    'lab.example',
    '--pxe',
  );
  if (network.code !== 0) throw new Error(`network create failed: ${network.stderr}`);
  const adminToken = readFileSync(join(server.dir, '.sprout', 'admin-token'), 'utf8').trim();
  const lab: SiteLab = {
    server,
    work,
    cli,
    async api(method, path, body) {
      const response = await fetch(`http://127.0.0.1:${server.port}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
      return text ? JSON.parse(text) : undefined;
    },
    async imageReported(name) {
      await until(
        `image ${name} reported by the agent`,
        async () => (await lab.api('GET', '/v1/sites/lab/images')).items.some((i: { name: string }) => i.name === name),
        15_000,
      );
    },
    async startAgent(services) {
      const config = join(work, 'agent.yaml');
      writeFileSync(
        config,
        [
          `controlPlane: http://127.0.0.1:${server.port}`,
          `joinToken: ${site.joinToken.token}`,
          `dataDir: ${join(work, 'agent')}`,
          'hostname: agent-lab',
          ...(options.agentYaml ?? []),
          'services:',
          ...services,
          '',
        ].join('\n'),
      );
      const agent = spawnSprout(['agent', 'run', '--config', config], { cwd: server.dir, env: server.env });
      agents.push(agent);
      await agent.waitFor('sprout agent is running');
      return agent;
    },
  };
  return lab;
}

/** A site lab whose agent runs DHCP (answering a relay), TFTP and HTTP boot on loopback, with small fake boot files, and a machine simulator playing the relay. */
export interface SimulatedSite extends SiteLab {
  simulator: import('@sprout/agent/simulator').MachineSimulator;
  events: import('@sprout/agent/simulator').SimulatorEvent[];
  /** `<artifactRoot>/images`: put images to deploy by name here. */
  images: string;
  /** The `services:` lines the agent was started with, to start it again the same way. */
  services: string[];
  agent: LongRunning;
  /** Where the simulator reaches the agent (another relay address in the network with the same port works too). */
  endpoints: import('@sprout/agent/simulator').SimulatorEndpoints;
}

export async function simulatedSite(
  t: Teardowns,
  subnet: string,
  options: SiteLabOptions & { retryDelayMs?: number; onEvent?: (event: import('@sprout/agent/simulator').SimulatorEvent) => void } = {},
): Promise<SimulatedSite> {
  const lab = await siteLab(t, subnet, options);
  const artifacts = join(lab.work, 'artifacts');
  const bootRoot = join(lab.work, 'tftp');
  for (const dir of [join(artifacts, 'installer'), join(artifacts, 'images'), bootRoot]) mkdirSync(dir, { recursive: true });
  writeFileSync(join(artifacts, 'installer', 'vmlinuz'), randomBytes(200_000));
  writeFileSync(join(artifacts, 'installer', 'initrd.img'), randomBytes(120_000));
  writeFileSync(join(bootRoot, 'undionly.kpxe'), randomBytes(70_000));
  writeFileSync(join(bootRoot, 'ipxe.efi'), randomBytes(250_000));
  const [dhcpPort, relayPort, tftpPort, httpPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const services = [
    `  dhcp: { port: ${dhcpPort}, address: 127.0.0.1, relayPort: ${relayPort}, serverId: 127.0.0.1, httpBootUrl: 'http://127.0.0.1:${httpPort}' }`,
    `  tftp: { port: ${tftpPort}, address: 127.0.0.1, root: ${bootRoot} }`,
    `  http: { port: ${httpPort}, address: 127.0.0.1, artifactRoot: ${artifacts} }`,
  ];
  const agent = await lab.startAgent(services);
  const { MachineSimulator } = await import('@sprout/agent/simulator');
  const events: SimulatedSite['events'] = [];
  const endpoints = { dhcp: { host: '127.0.0.1', port: dhcpPort }, relay: { address: `${subnet}.1`, port: relayPort }, tftp: { port: tftpPort } };
  const simulator = new MachineSimulator({
    endpoints,
    retryDelayMs: options.retryDelayMs ?? 300,
    onEvent: (e) => (events.push(e), options.onEvent?.(e)),
  });
  await simulator.start();
  t.teardown(() => simulator.stop());
  return { ...lab, simulator, events, images: join(artifacts, 'images'), services, agent, endpoints };
}
