/**
 * A whole Sprout installation on one machine, without root or outside services: the
 * control plane on the embedded database, one site with its agent serving DHCP, TFTP,
 * HTTP boot and DNS on unprivileged loopback ports, a PXE network, and the machine
 * simulator playing the machines (it reaches the agent's DHCP server as a relay, with
 * the network's gateway as giaddr) and powering them through its power switch, the lab's
 * BMC (`bmc.type: lab`, plugins/power-lab). `sprout lab demo` runs a story on it;
 * `sprout lab up` keeps it running for an operator.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient, ok } from '@sprout/kernel/cli';
import type { Kernel } from '@sprout/kernel';
import type { SiteAgent } from '@sprout/agent';
import type { MachineSimulator, SimulatorEvent } from '@sprout/agent/simulator';
import { prepareArtifacts, type LabArtifacts } from './lab-artifacts.ts';
import { builtinPlugins } from '../builtin-plugins.ts';
import { freeSitePorts, freeTcpPort, loopbackSiteServices } from './lab-ports.ts';

export const labSite = 'lab';
export const labNetwork = { name: 'prov', cidr: '127.77.0.0/24', gateway: '127.77.0.1', domain: 'lab.sprout.test' };

export interface LabOptions {
  /** Folder for everything the lab keeps: database, agent identity, artifacts, log. */
  dir: string;
  /** API port on 127.0.0.1; 0 picks a free one. */
  apiPort: number;
  /**
   * Play machines in this process (the demo). Without it the relay port stays free for
   * `sprout lab simulate` (a lab kept running by `lab up`).
   */
  simulator: boolean;
  /** Seconds between a simulated machine's refused boot and its next try. */
  retrySeconds?: number;
  onSimulatorEvent?: (event: SimulatorEvent) => void;
  /** Told each part of the lab as it comes up. */
  onProgress?: (what: string) => void;
}

/** What an operator needs to reach a running lab, kept in `<dir>/lab.json`. */
export interface LabInfo {
  pid: number;
  dir: string;
  url: string;
  token: string;
  startedAt: string;
  /** `power`: the lab power switch's URL, the `bmc.address` of the lab's machines (`bmc.type: lab`). */
  services: { dhcp: string; relay: string; tftp: string; http: string; dns: string; power: string };
  /** GET /metrics of each process (docs/metrics.md): the control plane's takes the lab's token. */
  metrics: { controlPlane: string; agent: string };
  image: LabArtifacts['image'];
  realInstaller: boolean;
}

export class Lab {
  private constructor(
    readonly info: LabInfo,
    readonly api: ApiClient,
    readonly simulator: MachineSimulator | undefined,
    private readonly kernel: Kernel,
    private readonly agent: SiteAgent,
  ) {}

  static async start(options: LabOptions): Promise<Lab> {
    const { dir } = options;
    const progress = options.onProgress ?? (() => undefined);
    const { default: pino } = await import('pino');
    const { maskUrls } = await import('@sprout/kernel/cli');
    const { ensurePrivateDir } = await import('@sprout/kernel');
    ensurePrivateDir(dir);
    const logger = pino(
      { level: 'info', base: { service: 'sprout-lab' }, hooks: { streamWrite: maskUrls } },
      pino.destination({ dest: join(dir, 'lab.log'), sync: false }),
    );
    const artifacts = prepareArtifacts(dir);
    const apiPort = options.apiPort || (await freeTcpPort());
    const ports = {
      ...(await freeSitePorts(labNetwork.gateway)),
      power: await powerSwitchPort(dir),
      metrics: await freeTcpPort(),
    };

    const configFile = await writeLabConfig(dir, apiPort);
    const { Kernel, loadConfig } = await import('@sprout/kernel');
    progress(`starting the control plane on the embedded database (${join(dir, 'control-plane')})`);
    const kernel = await Kernel.boot({
      config: loadConfig({ file: configFile, env: {} }).config,
      builtinPlugins,
      logger: logger.child({ component: 'control-plane' }),
    });
    let agent: SiteAgent | undefined;
    let simulator: MachineSimulator | undefined;
    try {
      const url = await kernel.listen();
      const token = (await import('node:fs')).readFileSync(join(dir, 'control-plane', 'admin-token'), 'utf8').trim();
      const api = new ApiClient({ url, token, source: 'sprout lab' });
      progress(`control plane listening at ${url}; registering site ${labSite}`);
      const site = await ensureSite(api);
      const httpBase = `http://127.0.0.1:${ports.http}`;
      const { SiteAgent } = await import('@sprout/agent');
      agent = new SiteAgent({
        controlPlaneUrl: url,
        joinToken: site.joinToken,
        dataDir: join(dir, 'agent'),
        hostname: 'lab-agent',
        logger: logger.child({ component: 'agent' }),
        services: loopbackSiteServices(ports, artifacts, 600),
        metrics: { listen: `127.0.0.1:${ports.metrics}` },
      });
      progress('starting the site agent: DHCP, TFTP, HTTP boot and DNS on loopback ports');
      await agent.start();
      await waitForAgentOnline(api);
      progress(`agent online; creating PXE network ${labNetwork.name} ${labNetwork.cidr}`);
      await ensureNetwork(api);
      if (options.simulator) {
        const { MachineSimulator } = await import('@sprout/agent/simulator');
        simulator = new MachineSimulator({
          endpoints: {
            dhcp: { host: '127.0.0.1', port: ports.dhcp },
            relay: { address: labNetwork.gateway, port: ports.relay },
            tftp: { host: '127.0.0.1', port: ports.tftp },
          },
          retryDelayMs: (options.retrySeconds ?? 1) * 1000,
          powerPort: ports.power,
          onEvent: options.onSimulatorEvent,
        });
        await simulator.start();
      }
      const info: LabInfo = {
        pid: process.pid,
        dir,
        url,
        token,
        startedAt: new Date().toISOString(),
        services: {
          dhcp: `127.0.0.1:${ports.dhcp}`,
          relay: `${labNetwork.gateway}:${ports.relay}`,
          tftp: `127.0.0.1:${ports.tftp}`,
          http: httpBase,
          dns: `127.0.0.1:${ports.dns}`,
          power: `http://127.0.0.1:${ports.power}`,
        },
        metrics: { controlPlane: `${url}/metrics`, agent: agent.metricsUrl ?? `http://127.0.0.1:${ports.metrics}/metrics` },
        image: artifacts.image,
        realInstaller: artifacts.realInstaller,
      };
      return new Lab(info, api, simulator, kernel, agent);
    } catch (err) {
      await simulator?.stop().catch(() => undefined);
      await agent?.stop().catch(() => undefined);
      await kernel.stop();
      throw err;
    }
  }

  /**
   * What both processes count now, read from their /metrics: each sample line of the
   * exposition text whose name is asked for (the demo prints these after its run).
   */
  async metricSamples(names: string[]): Promise<{ process: 'control plane' | 'agent'; sample: string; value: number }[]> {
    const scrape = async (url: string, process: 'control plane' | 'agent', token?: string) => {
      const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
      if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
      return (await response.text())
        .split('\n')
        .filter((line) => line && !line.startsWith('#') && names.includes(line.split(/[{ ]/)[0]!))
        .map((line) => ({ process, sample: line.slice(0, line.lastIndexOf(' ')), value: Number(line.slice(line.lastIndexOf(' ') + 1)) }));
    };
    return [...(await scrape(this.info.metrics.controlPlane, 'control plane', this.info.token)), ...(await scrape(this.info.metrics.agent, 'agent'))];
  }

  async stop(): Promise<void> {
    await this.simulator?.stop().catch(() => undefined);
    await this.agent.stop().catch(() => undefined);
    await this.kernel.stop();
  }
}

/**
 * The lab power switch's port: the same on every start of a lab (its machines keep the
 * switch URL as their `bmc.address`), chosen free on the first and kept in `<dir>/power-port`.
 */
async function powerSwitchPort(dir: string): Promise<number> {
  const file = join(dir, 'power-port');
  const kept = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : NaN;
  if (Number.isInteger(kept) && kept > 0 && kept < 65536) return kept;
  const port = await freeTcpPort();
  writeFileSync(file, `${port}\n`);
  return port;
}

/**
 * The lab's control-plane config: written on the first start; later starts only move
 * `listen` to this run's port, so whatever the operator (or `sprout plugin install
 * --enable`) added to it stays.
 */
async function writeLabConfig(dir: string, apiPort: number): Promise<string> {
  const file = join(dir, 'sprout.yaml');
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(existsSync(file) ? readFileSync(file, 'utf8') : "# The lab's control plane (sprout lab up/demo).\n");
  if (!doc.has('dataDir')) doc.set('dataDir', join(dir, 'control-plane'));
  doc.set('listen', `127.0.0.1:${apiPort}`);
  if (!doc.has('agents')) doc.set('agents', { heartbeatSeconds: 1 });
  writeFileSync(file, doc.toString(), { mode: 0o600 });
  return file;
}

/** The lab site; a lab that ran before keeps its site, and its agent its identity. */
async function ensureSite(api: ApiClient): Promise<{ joinToken?: string }> {
  const existing = await ok(api.typed.GET('/v1/sites'));
  if (existing.items.some((s) => s.name === labSite)) return {};
  const created = await ok(api.typed.POST('/v1/sites', { body: { name: labSite, description: 'sprout lab: everything on this machine' } }));
  return { joinToken: created.joinToken.token };
}

async function ensureNetwork(api: ApiClient): Promise<void> {
  const existing = await ok(api.typed.GET('/v1/networks', { params: { query: { site: labSite } } }));
  if (existing.items.some((n) => n.name === labNetwork.name)) return;
  await ok(api.typed.POST('/v1/networks', { body: { site: labSite, ...labNetwork, pxe: true } }));
}

async function waitForAgentOnline(api: ApiClient, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const site = await ok(api.typed.GET('/v1/sites/{id}', { params: { path: { id: labSite } } }));
    if (site.agents.some((a) => a.status === 'online')) return;
    if (Date.now() > deadline) throw new Error(`the lab's agent did not come online within ${timeoutMs / 1000} s (see lab.log)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
