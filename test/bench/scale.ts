/**
 * scale: 3 control-plane processes on one PostgreSQL schema, reached by the agents
 * through a round-robin of their addresses, a 3-node NATS JetStream cluster (streams
 * replicated ×3), and N sites (10 by default) each with its own agent process and
 * machine simulator, M machines per site (1000 by default): every machine commissioned
 * and deployed. Midway one control plane and one NATS node are SIGKILLed and started
 * again 20 s later; at the end no machine may be failed, no work item may have run
 * twice, and the fault suite's invariants must hold. Bounded by a deadline; every
 * process, folder and the schema are removed at the end, also after a failure.
 */
import { readFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { MachineSimulator, SimulatedMachine } from '@sprout/agent/simulator';
import { prepareArtifacts } from '../../cli/src/lab/lab-artifacts.ts';
import { freeSitePorts, freeTcpPort, loopbackSiteServices } from '../../cli/src/lab/lab-ports.ts';
import { invariantViolations } from '../faults/invariants.ts';
import {
  failedNote,
  noteStatuses,
  percentile,
  processStats,
  sleep,
  sproutNodeArgs,
  startChild,
  type BenchOptions,
  type Child,
  type Cleanup,
  type Row,
  type SuiteResult,
} from './bench-kit.ts';
import { databaseUrl, macFor, startControlPlane, type ControlPlane } from './control-plane-process.ts';
import { inBatches } from './provisioning.ts';

const replicas = 3;
/** How long the killed control plane and NATS node stay down. */
const downMs = 20_000;
const targetSeconds = 600;

interface ProcessFigures {
  cpuSeconds: number;
  peakRssMiB: number;
}

/** CPU of a process that may have been killed and started again: what the earlier ones used, plus the current one. */
class ProcessAccount {
  private spent = 0;
  private peak = 0;
  async retire(pid: number | undefined): Promise<void> {
    const stats = pid === undefined ? null : await processStats(pid);
    if (stats) (this.spent += stats.cpuSeconds), (this.peak = Math.max(this.peak, stats.peakRssMiB));
  }
  async total(pid: number | undefined): Promise<ProcessFigures> {
    const stats = pid === undefined ? null : await processStats(pid);
    return { cpuSeconds: this.spent + (stats?.cpuSeconds ?? 0), peakRssMiB: Math.max(this.peak, stats?.peakRssMiB ?? 0) };
  }
}

interface NatsNode {
  name: string;
  port: number;
  clusterPort: number;
  monitorPort: number;
  child: Child;
  account: ProcessAccount;
}

/** Debian's nats-server ×3 on loopback, clustered by routes, each with its own JetStream folder under `work`. */
async function startNatsCluster(cleanup: Cleanup, work: string) {
  const nodes: NatsNode[] = [];
  for (let i = 0; i < replicas; i++) {
    nodes.push({
      name: `bench-nats-${i + 1}`,
      port: await freeTcpPort(),
      clusterPort: await freeTcpPort(),
      monitorPort: await freeTcpPort(),
      child: undefined as unknown as Child,
      account: new ProcessAccount(),
    });
  }
  const start = async (node: NatsNode) => {
    const routes = nodes.filter((n) => n !== node).map((n) => `nats://127.0.0.1:${n.clusterPort}`);
    node.child = startChild(cleanup, process.env.SPROUT_TEST_NATS_SERVER ?? 'nats-server', [
      '-js',
      '-sd',
      join(work, node.name),
      '-a',
      '127.0.0.1',
      '-p',
      String(node.port),
      '-m',
      String(node.monitorPort),
      '--server_name',
      node.name,
      '--cluster_name',
      'sprout-bench',
      '--cluster',
      `nats://127.0.0.1:${node.clusterPort}`,
      '--routes',
      routes.join(','),
    ]);
    await node.child.waitFor('Server is ready', 30_000);
  };
  await Promise.all(nodes.map(start));
  /** The JetStream meta leader as a node sees it (empty until the cluster elected one). */
  const metaLeader = async (node: NatsNode) => {
    try {
      const jsz = (await (await fetch(`http://127.0.0.1:${node.monitorPort}/jsz`, { signal: AbortSignal.timeout(2000) })).json()) as {
        meta_cluster?: { leader?: string };
      };
      return jsz.meta_cluster?.leader ?? '';
    } catch {
      return '';
    }
  };
  const waitForLeader = async () => {
    for (const deadline = Date.now() + 60_000; ; ) {
      if ((await Promise.all(nodes.map(metaLeader))).every(Boolean)) return;
      if (Date.now() > deadline)
        throw new Error(
          `the NATS cluster elected no JetStream leader in 60 s (leaders seen: ${(await Promise.all(nodes.map(metaLeader))).map((l) => l || 'none').join(', ')}):\n${nodes.map((n) => `${n.name}: ${n.child.output().slice(-1500)}`).join('\n')}`,
        );
      await sleep(250);
    }
  };
  await waitForLeader();
  return {
    nodes,
    url: nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(','),
    start,
    waitForLeader,
    /**
     * Reports published and those not yet applied (summed over the control planes'
     * per-site consumers), and desired-state documents stored. Every node is asked: a
     * follower's view of a consumer lags, so each consumer's most advanced view (its
     * leader's) is taken.
     */
    async flow(): Promise<{ reports: number; reportsWaiting: number; documents: number } | null> {
      let answered = false;
      let reports = 0;
      let documents = 0;
      const consumers = new Map<string, { delivered: number; waiting: number }>();
      for (const node of nodes) {
        try {
          const jsz = (await (await fetch(`http://127.0.0.1:${node.monitorPort}/jsz?consumers=true`, { signal: AbortSignal.timeout(2000) })).json()) as {
            account_details?: {
              stream_detail?: {
                name: string;
                state: { last_seq: number };
                consumer_detail?: { name: string; num_pending: number; num_ack_pending: number; delivered: { stream_seq: number } }[];
              }[];
            }[];
          };
          const streams = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
          const stream = streams.find((s) => s.name.endsWith('_REPORTS'));
          if (!stream) continue;
          answered = true;
          reports = Math.max(reports, stream.state.last_seq);
          documents = Math.max(documents, streams.find((s) => s.name.startsWith('KV_'))?.state.last_seq ?? 0);
          for (const c of stream.consumer_detail ?? []) {
            if (!c.name.startsWith('control-plane')) continue;
            const seen = consumers.get(c.name);
            if (seen && seen.delivered >= c.delivered.stream_seq) continue;
            consumers.set(c.name, { delivered: c.delivered.stream_seq, waiting: c.num_pending + c.num_ack_pending });
          }
        } catch {
          // A node that is down (the killed one) or slow to answer: the others tell.
        }
      }
      if (!answered) return null;
      return { reports, reportsWaiting: [...consumers.values()].reduce((sum, c) => sum + c.waiting, 0), documents };
    },
    /** Each stream's configured replicas and the peers it has now, from the first node's monitoring endpoint. */
    async streams(): Promise<{ name: string; replicas: number; current: number }[]> {
      const jsz = (await (await fetch(`http://127.0.0.1:${nodes[0].monitorPort}/jsz?streams=true&config=true`)).json()) as {
        account_details?: { stream_detail?: { name: string; config?: { num_replicas?: number }; cluster?: { replicas?: { current: boolean }[] } }[] }[];
      };
      return (jsz.account_details ?? []).flatMap((a) =>
        (a.stream_detail ?? []).map((s) => ({
          name: s.name,
          replicas: s.config?.num_replicas ?? 1,
          current: 1 + (s.cluster?.replicas ?? []).filter((r) => r.current).length,
        })),
      );
    },
  };
}

/**
 * One address in front of several control planes, as a DNS round-robin or a plain TCP
 * load balancer would be: each new connection goes to the next address, and one that
 * refuses is skipped. A connection stays with its control plane until either side closes.
 */
async function roundRobin(cleanup: Cleanup, ports: () => number[]): Promise<number> {
  let next = 0;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    open.add(client);
    client.pause();
    client.on('error', () => client.destroy());
    client.on('close', () => open.delete(client));
    const attempt = (left: number) => {
      const list = ports();
      if (left === 0 || list.length === 0 || client.destroyed) return void client.destroy();
      const upstream = connect(list[next++ % list.length], '127.0.0.1');
      open.add(upstream);
      let connected = false;
      upstream.on('close', () => (open.delete(upstream), connected && client.destroy()));
      upstream.on('error', () => (connected ? upstream.destroy() : attempt(left - 1)));
      upstream.once('connect', () => {
        connected = true;
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(ports().length);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
  cleanup.add('close the round-robin', async () => {
    for (const socket of open) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as { port: number }).port;
}

interface Site {
  name: string;
  gateway: string;
  agent: Child;
  logFile: string;
  simulator: MachineSimulator;
  machines: (SimulatedMachine & { hostname: string })[];
}

export async function scaleSuite(options: BenchOptions, cleanup: Cleanup): Promise<SuiteResult> {
  const siteCount = options.sites ?? (options.quick ? 3 : 10);
  const perSite = options.machinesGiven ? options.machines : options.quick ? 20 : 1000;
  const total = siteCount * perSite;
  if (siteCount > 100) throw new Error('--sites: at most 100 (each site gets its own 127.<100+n>.0.0/16)');
  const notes: string[] = [];
  const suiteStarted = Date.now();
  const deadline = suiteStarted + (options.quick ? 8 : 15) * 60_000;
  const work = mkdtempSync(join(tmpdir(), 'sprout-bench-scale-'));
  cleanup.add('remove the scale folder', () => rmSync(work, { recursive: true, force: true }));
  const artifacts = prepareArtifacts(work);

  options.log(`scale: a ${replicas}-node NATS cluster`);
  const nats = await startNatsCluster(cleanup, work);
  const yaml = ['agents: { heartbeatSeconds: 2 }', `plugins: { transport-nats: { url: '${nats.url}', replicas: ${replicas} } }`, ''].join('\n');

  options.log(`scale: ${replicas} control planes on one schema`);
  const first = await startControlPlane(cleanup, { yaml, logLevel: 'warn' });
  // The first one migrated the schema; the others start on it together.
  const cps: ControlPlane[] = [
    first,
    ...(await Promise.all(
      Array.from({ length: replicas - 1 }, () => startControlPlane(cleanup, { yaml, logLevel: 'warn', schema: first.schema, token: first.token })),
    )),
  ];
  const cpAccounts = cps.map(() => new ProcessAccount());
  const cpPort = (cp: ControlPlane) => Number(new URL(cp.url).port);
  const proxyPort = await roundRobin(cleanup, () => cps.map(cpPort));
  const proxyUrl = `http://127.0.0.1:${proxyPort}`;

  /** The operator's script: requests go round the control planes that are up; a connection refused or cut is tried on the next. */
  const down = new Set<number>();
  let turn = 0;
  let operatorRetries = 0;
  const api = async <T = any>(method: string, path: string, body?: unknown): Promise<T> => {
    let failedOnce = false;
    for (let attempt = 1; ; attempt++) {
      const live = cps.map((_, i) => i).filter((i) => !down.has(i));
      const cp = cps[live[turn++ % live.length]];
      try {
        return await cp.api<T>(method, path, body);
      } catch (err) {
        const message = (err as Error).message;
        // The first try may have been done before its answer was lost: the machine is then already on its way.
        if (failedOnce && method === 'POST' && / answered 409:/.test(message)) return undefined as T;
        if (/ answered \d{3}:/.test(message) || attempt >= 10) throw err;
        failedOnce = true;
        operatorRetries++;
        await sleep(500 * attempt);
      }
    }
  };

  options.log(`scale: ${siteCount} sites, an agent each`);
  const sites: Site[] = [];
  /** Simulated machines whose firmware or installer gave up, by MAC. */
  const gaveUp = new Map<string, string>();
  const { MachineSimulator } = await import('@sprout/agent/simulator');
  await Promise.all(
    Array.from({ length: siteCount }, async (_, s) => {
      const name = `scale-${s + 1}`;
      const gateway = `127.${100 + s}.0.1`;
      const created = await api<{ joinToken: { token: string } }>('POST', '/v1/sites', { name });
      const ports = await freeSitePorts(gateway);
      const logFile = join(work, `agent-${s + 1}.log`);
      const agent = startChild(cleanup, process.execPath, [
        ...sproutNodeArgs(),
        fileURLToPath(new URL('./site-agent.mjs', import.meta.url)),
        JSON.stringify({
          controlPlaneUrl: proxyUrl,
          joinToken: created.joinToken.token,
          dataDir: join(work, `agent-${s + 1}`),
          hostname: `${name}-agent`,
          logFile,
          services: loopbackSiteServices(ports, artifacts, 3600),
        }),
      ]);
      await agent.waitFor('ready', 120_000);
      for (let i = 0; ; i++) {
        const view = await api<{ agents: { status: string }[] }>('GET', `/v1/sites/${name}`);
        if (view.agents.some((a) => a.status === 'online')) break;
        if (i > 600) throw new Error(`the agent of ${name} did not come online in 60 s`);
        await sleep(100);
      }
      await api('POST', '/v1/networks', { site: name, name: 'prov', cidr: `127.${100 + s}.0.0/16`, gateway, domain: `${name}.sprout.test`, pxe: true });
      const machines = Array.from({ length: perSite }, (_, i) => ({
        hostname: `${name}-${i + 1}`,
        mac: macFor(i + 1, 0x60 + s),
        arch: 'bios' as const,
        cpus: 4,
        memoryMiB: 4096,
        disks: 1,
        diskBytes: 32 * 1024 ** 3,
      }));
      // The site's machines sit behind the simulator's power switch, the lab's BMC: their workflows power them.
      const simulator = new MachineSimulator({
        endpoints: {
          dhcp: { host: '127.0.0.1', port: ports.dhcp },
          relay: { address: gateway, port: ports.relay },
          tftp: { host: '127.0.0.1', port: ports.tftp },
        },
        retryDelayMs: 1000,
        powerPort: await freeTcpPort(),
        onPowerOnEnd: (mac, result) => void (result.outcome === 'error' && gaveUp.set(mac, result.detail ?? 'no detail')),
      });
      await simulator.start();
      cleanup.add(`stop the simulator of ${name}`, () => simulator.stop());
      for (const m of machines) simulator.plugIn(m);
      for (let i = 0; i < machines.length; i += 1000) {
        await api(
          'POST',
          '/v1/machines/import',
          machines.slice(i, i + 1000).map((m) => ({
            site: name,
            hostname: m.hostname,
            arch: 'x86_64',
            bootMode: 'bios',
            interfaces: [{ mac: m.mac, pxe: true }],
            bmc: { type: 'lab', address: simulator.powerSwitchUrl },
            expected: { cpus: m.cpus, memoryMiB: m.memoryMiB, disks: m.disks },
          })),
        );
      }
      sites[s] = { name, gateway, agent, logFile, simulator, machines };
    }),
  );

  const requestedAt = new Map<string, number>();
  const readyAt = new Map<string, number>();
  const deployedAt = new Map<string, number>();
  const failed = new Map<string, string>();
  /** Machines in `status` (every machine when unset), through the API's pages. */
  const listMachines = async (status?: string) => {
    const statuses = new Map<string, { status: string; reason: string | null }>();
    let cursor: string | null = null;
    do {
      const page: { items: { hostname: string; status: string; statusReason: { message: string } | null }[]; nextCursor: string | null } = await api(
        'GET',
        `/v1/machines?limit=1000${status ? `&status=${status}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      for (const item of page.items) statuses.set(item.hostname, { status: item.status, reason: item.statusReason?.message ?? null });
      cursor = page.nextCursor;
    } while (cursor);
    return statuses;
  };

  // The fault: one control plane and one NATS node SIGKILLed once half the machines are commissioned, both back after 20 s.
  let fault: { at: number; back?: number; done: Promise<void> } | undefined;
  const victim = 1;
  const injectFault = () => {
    const at = Date.now();
    const node = nats.nodes[victim];
    options.log(`scale +${((at - started) / 1000).toFixed(0)} s: SIGKILL control plane ${victim + 1} and ${node.name}; both start again in ${downMs / 1000} s`);
    const done = (async () => {
      down.add(victim);
      await cpAccounts[victim].retire(cps[victim].child.process.pid);
      await node.account.retire(node.child.process.pid);
      cps[victim].child.process.kill('SIGKILL');
      node.child.process.kill('SIGKILL');
      await Promise.all([cps[victim].child.exited, node.child.exited]);
      await sleep(downMs);
      const old = cps[victim];
      await Promise.all([
        nats.start(node),
        startControlPlane(cleanup, { yaml, logLevel: 'warn', schema: old.schema, token: old.token, dataDir: old.dataDir }).then((cp) => {
          cps[victim] = cp;
          down.delete(victim);
        }),
      ]);
      fault!.back = Date.now();
      options.log(`scale +${((Date.now() - started) / 1000).toFixed(0)} s: control plane ${victim + 1} and ${node.name} are back`);
    })();
    fault = { at, done };
  };

  const started = Date.now();
  options.log(`scale: commissioning ${total} machines (${siteCount} sites × ${perSite})`);
  // Sites take turns, so every site has work from the start.
  const order = Array.from({ length: perSite }, (_, i) => sites.map((s) => s.machines[i].hostname)).flat();
  let commissionError: Error | undefined;
  const commissioning = inBatches(order, 50, async (hostname) => {
    requestedAt.set(hostname, Date.now());
    await api('POST', `/v1/machines/${hostname}/commission`, { hwtest: true });
  }).catch((err: Error) => void (commissionError = err));
  // Deploys run beside the polling, at most 50 requests at once, so a machine still powering off holds up no other.
  let deploying = 0;
  const deployWaiters: (() => void)[] = [];
  const deploys: Promise<void>[] = [];
  const deployErrors = new Map<string, string>();
  const deployAskedAt = new Map<string, number>();
  const deploy = async (hostname: string) => {
    if (Date.now() > deadline) return;
    while (deploying >= 50) await new Promise<void>((resolve) => deployWaiters.push(resolve));
    deploying++;
    try {
      deployAskedAt.set(hostname, Date.now());
      await api('POST', `/v1/machines/${hostname}/deploy`, { image: artifacts.image.name });
    } finally {
      deploying--;
      deployWaiters.shift()?.();
    }
  };
  /** Listing every machine is a load of its own at 10 000: it is done less often the more there are. */
  const fullListEveryMs = Math.max(2000, total / 2);
  let lastLog = 0;
  let lastFullList = 0;
  let peakReportsWaiting = 0;
  while (deployedAt.size + failed.size + deployErrors.size < total && Date.now() < deadline && !commissionError) {
    await sleep(1000);
    const full = Date.now() - lastFullList >= fullListEveryMs;
    const statuses = await listMachines(full ? undefined : 'ready');
    if (full) lastFullList = Date.now();
    const toDeploy = noteStatuses(statuses, { readyAt, deployedAt, failed });
    if (!fault && readyAt.size >= total / 2) injectFault();
    for (const hostname of toDeploy) deploys.push(deploy(hostname).catch((err: Error) => void deployErrors.set(hostname, err.message)));
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      const flow = await nats.flow();
      if (flow) peakReportsWaiting = Math.max(peakReportsWaiting, flow.reportsWaiting);
      options.log(
        `scale +${((Date.now() - started) / 1000).toFixed(0)} s: ${requestedAt.size} asked, ${readyAt.size} commissioned, ${deployedAt.size} deployed, ${failed.size} failed; ${flow ? `${flow.reports} reports, ${flow.reportsWaiting} not yet applied, ${flow.documents} desired-state documents` : 'NATS monitoring unanswered'}`,
      );
    }
  }
  if (commissionError) throw commissionError;
  await commissioning;
  await Promise.race([Promise.all(deploys), sleep(60_000)]);
  const seconds = (Date.now() - started) / 1000;
  // Figures are taken with every process up again, so a late restart is waited for.
  if (fault) await Promise.race([fault.done, sleep(120_000)]);

  const cpStats = await Promise.all(cps.map((cp, i) => cpAccounts[i].total(cp.child.process.pid)));
  const natsStats = await Promise.all(nats.nodes.map((n) => n.account.total(n.child.process.pid)));
  const agentStats = await Promise.all(sites.map((s) => processStats(s.agent.process.pid!)));
  const benchCpu = process.cpuUsage();
  const benchStats = { cpuSeconds: (benchCpu.user + benchCpu.system) / 1e6, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
  const flow = await nats.flow();
  const streams = await nats.streams().catch((err: Error) => (notes.push(`stream replicas not read: ${err.message}`), []));

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let databaseBytes = 0;
  let steps: { workflow_id: string; name: string; attempt: number; log_tail: string[] | string | null }[] = [];
  try {
    const size = await client.query(
      "select coalesce(sum(pg_total_relation_size(format('%I.%I', schemaname, tablename))), 0) as bytes from pg_tables where schemaname = $1",
      [first.schema],
    );
    databaseBytes = Number(size.rows[0].bytes);
    steps = (await client.query(`select workflow_id, name, attempt, log_tail from ${first.schema}.workflow_steps where kind = 'site'`)).rows;
  } finally {
    await client.end();
  }
  const violations = await invariantViolations(databaseUrl, first.schema);

  // The switch counts power-ons: a commission and a deploy power a machine on once each, so a third is a step run twice.
  const starts = (site: Site, mac: string) => site.simulator.machineState(mac)?.starts ?? 0;
  const poweredOnAgain = sites.flatMap((site) => site.machines.filter((m) => starts(site, m.mac) > 2).map((m) => `${m.hostname} ×${starts(site, m.mac)}`));
  for (const site of sites) for (const m of site.machines) site.simulator.powerOff(m.mac);
  // Stopped now, so their logs are complete; each execution of a work item logs `work item <task> started` once.
  await Promise.all(sites.map((s) => s.agent.stop()));
  const startedPerItem = new Map<string, number>();
  let redeliveriesSkipped = 0;
  for (const site of sites) {
    if (!existsSync(site.logFile)) continue;
    for (const line of readFileSync(site.logFile, 'utf8').split('\n')) {
      if (!line.includes('"msg":"work item')) continue;
      const entry = JSON.parse(line) as { item?: string; msg: string };
      if (/^work item \S+ started$/.test(entry.msg) && entry.item) startedPerItem.set(entry.item, (startedPerItem.get(entry.item) ?? 0) + 1);
      else if (entry.msg.startsWith('work item already completed')) redeliveriesSkipped++;
    }
  }
  const itemsRunTwice = [...startedPerItem].filter(([, n]) => n > 1);
  // A step dispatched twice under two item ids would also run twice: its log would say it started twice.
  const stepsStartedTwice = steps.filter((s) => {
    const log = (typeof s.log_tail === 'string' ? JSON.parse(s.log_tail) : (s.log_tail ?? [])) as string[];
    return log.filter((l) => l.startsWith('agent started ')).length > 1;
  });
  const doubleExecutions = itemsRunTwice.length + stepsStartedTwice.length + poweredOnAgain.length;

  const phase = (from: Map<string, number>, to: Map<string, number>) =>
    [...to]
      .filter(([h]) => from.has(h))
      .map(([h, at]) => (at - from.get(h)!) / 1000)
      .sort((a, b) => a - b);
  const commissionTimes = phase(requestedAt, readyAt);
  const deployTimes = phase(deployAskedAt, deployedAt);
  const durations = [...deployedAt].map(([h, at]) => (at - requestedAt.get(h)!) / 1000).sort((a, b) => a - b);
  const lastDeployed = deployedAt.size > 0 ? Math.max(...deployedAt.values()) : started;
  const allDone = deployedAt.size === total ? (lastDeployed - started) / 1000 : null;
  if (failed.size > 0) notes.push(failedNote(failed));
  if (deployedAt.size + failed.size < total)
    notes.push(`${total - deployedAt.size - failed.size} machine(s) not deployed by the deadline (${seconds.toFixed(0)} s)`);
  if (itemsRunTwice.length > 0)
    notes.push(
      `work items started twice: ${itemsRunTwice
        .slice(0, 5)
        .map(([id, n]) => `${id} ×${n}`)
        .join(', ')}`,
    );
  if (stepsStartedTwice.length > 0)
    notes.push(
      `site steps whose log says they started twice: ${stepsStartedTwice
        .slice(0, 5)
        .map((s) => `${s.name} of ${s.workflow_id}`)
        .join(', ')}`,
    );
  if (poweredOnAgain.length > 0) notes.push(`machines powered on more than twice: ${poweredOnAgain.slice(0, 5).join(', ')}`);
  for (const v of violations.slice(0, 5)) notes.push(`invariant: ${v}`);
  if (deployErrors.size > 0)
    notes.push(
      `${deployErrors.size} deploy request(s) failed: ${[...deployErrors]
        .slice(0, 3)
        .map(([h, e]) => `${h} ${e}`)
        .join('; ')}`,
    );
  if (gaveUp.size > 0) notes.push(`${gaveUp.size} simulated power-on(s) ended in an error: ${[...gaveUp.values()].slice(0, 3).join('; ')}`);
  if (fault)
    notes.push(
      `fault at +${((fault.at - started) / 1000).toFixed(0)} s (${readyAt.size >= total / 2 ? 'half the machines commissioned' : ''}): control plane ${victim + 1} and ${nats.nodes[victim].name} SIGKILLed, back at +${fault.back ? ((fault.back - started) / 1000).toFixed(0) : '?'} s`,
    );
  notes.push(
    `${startedPerItem.size} work items run by the agents, ${redeliveriesSkipped} redelivery(ies) of completed items acknowledged without running; ${steps.filter((s) => s.attempt > 1).length} site step(s) past attempt 1; ${operatorRetries} operator request(s) tried again on another control plane`,
  );
  notes.push(`streams: ${streams.map((s) => `${s.name} ×${s.replicas} (${s.current} current)`).join(', ') || 'none seen'}`);
  notes.push(
    `${siteCount} sites × ${perSite} machines, powered by their workflows through each site's simulated BMC (the lab power switch); the simulators run in the bench process; status seen by listing (ready every 1 s, all every ${(fullListEveryMs / 1000).toFixed(0)} s), so per-machine times are to that precision`,
  );

  const rows: Row[] = [
    { metric: 'sites', unit: '', better: 'none', sprout: siteCount },
    { metric: 'machines', unit: '', better: 'none', sprout: total },
    { metric: 'deployed', unit: '', better: 'none', sprout: deployedAt.size },
    { metric: 'failed', unit: '', better: 'none', sprout: failed.size },
    { metric: 'all deployed after', unit: 's', better: 'lower', sprout: allDone },
    {
      metric: 'machines per minute (commission + deploy)',
      unit: '/min',
      better: 'higher',
      sprout: deployedAt.size > 0 ? deployedAt.size / ((lastDeployed - started) / 60_000) : 0,
    },
    { metric: 'commission request → deployed p50', unit: 's', better: 'lower', sprout: percentile(durations, 50) },
    { metric: 'commission request → deployed p99', unit: 's', better: 'lower', sprout: percentile(durations, 99) },
    { metric: 'commission request → ready p50', unit: 's', better: 'lower', sprout: percentile(commissionTimes, 50) },
    { metric: 'commission request → ready p99', unit: 's', better: 'lower', sprout: percentile(commissionTimes, 99) },
    { metric: 'deploy request → deployed p50', unit: 's', better: 'lower', sprout: percentile(deployTimes, 50) },
    { metric: 'deploy request → deployed p99', unit: 's', better: 'lower', sprout: percentile(deployTimes, 99) },
    ...cpStats.flatMap((s, i): Row[] => [
      { metric: `control plane ${i + 1} CPU${i === victim ? ' (both lives)' : ''}`, unit: 's', better: 'lower', sprout: s.cpuSeconds },
      { metric: `control plane ${i + 1} peak RSS`, unit: 'MiB', better: 'lower', sprout: s.peakRssMiB },
    ]),
    ...natsStats.flatMap((s, i): Row[] => [
      { metric: `${nats.nodes[i].name} CPU${i === victim ? ' (both lives)' : ''}`, unit: 's', better: 'lower', sprout: s.cpuSeconds },
      { metric: `${nats.nodes[i].name} peak RSS`, unit: 'MiB', better: 'lower', sprout: s.peakRssMiB },
    ]),
    { metric: 'agents CPU, all', unit: 's', better: 'lower', sprout: agentStats.reduce((sum, s) => sum + (s?.cpuSeconds ?? 0), 0) },
    { metric: 'agent CPU, busiest', unit: 's', better: 'lower', sprout: Math.max(...agentStats.map((s) => s?.cpuSeconds ?? 0)) },
    { metric: 'agent peak RSS, largest', unit: 'MiB', better: 'lower', sprout: Math.max(...agentStats.map((s) => s?.peakRssMiB ?? 0)) },
    { metric: 'bench process (simulators) CPU', unit: 's', better: 'lower', sprout: benchStats.cpuSeconds },
    { metric: 'bench process peak RSS', unit: 'MiB', better: 'lower', sprout: benchStats.peakRssMiB },
    { metric: 'database size', unit: 'MiB', better: 'lower', sprout: databaseBytes / 1024 / 1024 },
    { metric: 'agent reports', unit: '', better: 'none', sprout: flow?.reports ?? null },
    { metric: 'reports not yet applied, most seen', unit: '', better: 'lower', sprout: peakReportsWaiting },
    { metric: 'desired-state documents published', unit: '', better: 'none', sprout: flow?.documents ?? null },
  ];
  const targets: SuiteResult['targets'] = [
    { what: `${total} machines commissioned and deployed`, measured: `${deployedAt.size} of ${total}`, met: deployedAt.size === total },
    {
      what: `all deployed in ≤ ${targetSeconds / 60} minutes`,
      measured:
        allDone === null ? `not all deployed after ${seconds.toFixed(0)} s` : `${allDone.toFixed(0)} s (${(targetSeconds / allDone).toFixed(2)}× the target)`,
      met: allDone !== null && allDone <= targetSeconds,
    },
    {
      what: `a control plane and a NATS node SIGKILLed midway, back after ${downMs / 1000} s`,
      measured: fault?.back ? `down ${((fault.back - fault.at) / 1000).toFixed(0)} s` : fault ? 'not back' : 'never injected',
      met: fault?.back !== undefined,
    },
    { what: 'no machine failed', measured: `${failed.size} failed`, met: failed.size === 0 },
    { what: 'no work item executed twice', measured: `${doubleExecutions} run twice`, met: doubleExecutions === 0 && startedPerItem.size > 0 },
    { what: "the fault suite's invariants hold", measured: `${violations.length} violation(s)`, met: violations.length === 0 },
    {
      what: `every stream replicated ×${replicas}`,
      measured: streams.map((s) => `${s.replicas}`).join('/') || 'none',
      met: streams.length > 0 && streams.every((s) => s.replicas === replicas),
    },
  ];
  return { suite: 'scale', peers: [], rows, targets, notes };
}
