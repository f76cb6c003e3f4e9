/**
 * provisioning: N simulated machines (100 by default, --machines 1000) commissioned
 * with hardware tests and deployed at once — the control plane on PostgreSQL and the
 * site agent each in their own process, the machine simulator in this one playing the
 * machines over loopback (DHCP through a relay, TFTP, HTTP boot, installer callbacks).
 * A machine is asked to deploy as soon as it is `ready`, as an operator's script would.
 * Bounded by a deadline; every process and the schema are removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { PowerOnResult } from '@sprout/agent/simulator';
import { prepareArtifacts } from '../../cli/src/lab/lab-artifacts.ts';
import { freeSitePorts, loopbackSiteServices } from '../../cli/src/lab/lab-ports.ts';
import {
  failedNote,
  noteStatuses,
  percentile,
  processStats,
  sleep,
  sproutNodeArgs,
  startChild,
  type BenchOptions,
  type Cleanup,
  type Row,
  type SuiteResult,
} from './bench-kit.ts';
import { databaseUrl, macFor, startControlPlane } from './control-plane-process.ts';

const gateway = '127.77.0.1';
/** How often the whole site's machines are listed to see which are deployed or failed (so to this precision). */
const fullListEveryMs = 2000;

/** Runs `work` over `items` with at most `limit` at once. */
export async function inBatches<T>(items: T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

export async function provisioningSuite(options: BenchOptions, cleanup: Cleanup): Promise<SuiteResult> {
  const count = options.machines;
  const notes: string[] = [];
  const cp = await startControlPlane(cleanup, { yaml: 'agents: { heartbeatSeconds: 1 }\n', logLevel: 'warn' });
  const work = mkdtempSync(join(tmpdir(), 'sprout-bench-prov-'));
  cleanup.add('remove the provisioning folder', () => rmSync(work, { recursive: true, force: true }));
  const artifacts = prepareArtifacts(work);
  const site = await cp.api<{ joinToken: { token: string } }>('POST', '/v1/sites', { name: 'bench' });
  const ports = await freeSitePorts(gateway);
  const agentSpec = {
    controlPlaneUrl: cp.url,
    joinToken: site.joinToken.token,
    dataDir: join(work, 'agent'),
    services: loopbackSiteServices(ports, artifacts, 600),
  };
  const agent = startChild(cleanup, process.execPath, [
    ...sproutNodeArgs(),
    fileURLToPath(new URL('./site-agent.mjs', import.meta.url)),
    JSON.stringify(agentSpec),
  ]);
  cleanup.add('stop the agent', async () => {
    agent.process.kill('SIGTERM');
    await Promise.race([agent.exited, sleep(10_000)]);
  });
  await agent.waitFor('ready', 60_000);
  for (let i = 0; ; i++) {
    const view = await cp.api<{ agents: { status: string }[] }>('GET', '/v1/sites/bench');
    if (view.agents.some((a) => a.status === 'online')) break;
    if (i > 300) throw new Error('the agent did not come online in 30 s');
    await sleep(100);
  }
  await cp.api('POST', '/v1/networks', { site: 'bench', name: 'prov', cidr: '127.77.0.0/16', gateway, domain: 'bench.sprout.test', pxe: true });

  const machines = Array.from({ length: count }, (_, i) => ({
    hostname: `bench-${i + 1}`,
    mac: macFor(i + 1, 0x5e),
    arch: 'bios' as const,
    cpus: 4,
    memoryMiB: 4096,
    disks: 1,
    diskBytes: 32 * 1024 ** 3,
  }));
  for (let i = 0; i < machines.length; i += 1000) {
    await cp.api(
      'POST',
      '/v1/machines/import',
      machines.slice(i, i + 1000).map((m) => ({
        site: 'bench',
        hostname: m.hostname,
        arch: 'x86_64',
        bootMode: 'bios',
        interfaces: [{ mac: m.mac, pxe: true }],
        expected: { cpus: m.cpus, memoryMiB: m.memoryMiB, disks: m.disks },
      })),
    );
  }

  const { MachineSimulator } = await import('@sprout/agent/simulator');
  const simulator = new MachineSimulator({
    endpoints: { dhcp: { host: '127.0.0.1', port: ports.dhcp }, relay: { address: gateway, port: ports.relay }, tftp: { host: '127.0.0.1', port: ports.tftp } },
    retryDelayMs: 1000,
  });
  await simulator.start();
  cleanup.add('stop the simulator', () => simulator.stop());

  const requestedAt = new Map<string, number>();
  const readyAt = new Map<string, number>();
  const deployedAt = new Map<string, number>();
  const failed = new Map<string, string>();
  const power = new Map<string, Promise<PowerOnResult>>();
  /** Simulated machines whose firmware or installer gave up (an installer's error is final, as on real hardware). */
  const gaveUp = new Map<string, string>();
  const powerOn = (m: (typeof machines)[number]) => {
    const run = simulator.powerOn(m);
    void run.then((r) => r.outcome === 'error' && gaveUp.set(m.hostname, r.detail ?? 'no detail'));
    power.set(m.hostname, run);
  };
  const deadline = Date.now() + (count <= 100 ? 300_000 : 600_000);
  const started = Date.now();
  options.log(`provisioning: commissioning ${count} machines`);
  await inBatches(machines, 50, async (m) => {
    requestedAt.set(m.hostname, Date.now());
    await cp.api('POST', `/v1/machines/${m.hostname}/commission`, { hwtest: true });
    powerOn(m);
  });
  const byHostname = new Map(machines.map((m) => [m.hostname, m]));
  /** One status (or every machine) of the bench site, through the API's pages. */
  const listMachines = async (status?: string) => {
    const statuses = new Map<string, { status: string; reason: string | null }>();
    let cursor: string | null = null;
    do {
      const page: { items: { hostname: string; status: string; statusReason: { message: string } | null }[]; nextCursor: string | null } = await cp.api(
        'GET',
        `/v1/machines?site=bench&limit=1000${status ? `&status=${status}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      for (const item of page.items) statuses.set(item.hostname, { status: item.status, reason: item.statusReason?.message ?? null });
      cursor = page.nextCursor;
    } while (cursor);
    return statuses;
  };
  /** The agent's TFTP counters from its last heartbeat, as an operator would read them. */
  const tftpSeenByAgent = async () => {
    const view = await cp.api<{ agents: { services: { tftp?: Record<string, number> } }[] }>('GET', '/v1/sites/bench');
    const tftp = view.agents[0]?.services.tftp;
    return tftp
      ? `tftp ${tftp.activeTransfers} active, ${tftp.completedTransfers} done, ${tftp.failedTransfers} failed, ${tftp.abortedByClient} aborted, ${tftp.deferredRequests} deferred`
      : 'no tftp health yet';
  };
  let lastLog = 0;
  let lastFullList = 0;
  while (deployedAt.size + failed.size < count && Date.now() < deadline) {
    await sleep(500);
    // As an operator's script would: the ready ones often, every machine now and then
    // (listing 1000 machines twice a second was a load of its own on the control plane).
    const full = Date.now() - lastFullList >= fullListEveryMs;
    const statuses = await listMachines(full ? undefined : 'ready');
    if (full) lastFullList = Date.now();
    const toDeploy = noteStatuses(statuses, { readyAt, deployedAt, failed });
    await inBatches(toDeploy, 50, async (hostname) => {
      await power.get(hostname); // powered off after commissioning
      await cp.api('POST', `/v1/machines/${hostname}/deploy`, { image: artifacts.image.name });
      powerOn(byHostname.get(hostname)!);
    });
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      options.log(
        `provisioning +${((Date.now() - started) / 1000).toFixed(0)} s: ${readyAt.size} commissioned, ${deployedAt.size} deployed, ${failed.size} failed; ${await tftpSeenByAgent()}`,
      );
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const cpStats = await processStats(cp.child.process.pid!);
  const agentStats = await processStats(agent.process.pid!);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const size = await client.query(
    "select coalesce(sum(pg_total_relation_size(format('%I.%I', schemaname, tablename))), 0) as bytes from pg_tables where schemaname = $1",
    [cp.schema],
  );
  await client.end();
  for (const m of machines) simulator.powerOff(m.mac);

  const durations = [...deployedAt].map(([h, at]) => (at - requestedAt.get(h)!) / 1000).sort((a, b) => a - b);
  const lastDeployed = Math.max(...deployedAt.values());
  const perMinute = deployedAt.size > 0 ? deployedAt.size / ((lastDeployed - started) / 60_000) : 0;
  if (failed.size > 0) notes.push(failedNote(failed));
  if (deployedAt.size + failed.size < count) notes.push(`${count - deployedAt.size - failed.size} machine(s) not deployed by the deadline`);
  if (gaveUp.size > 0) {
    const why = new Map<string, number>();
    for (const detail of gaveUp.values()) {
      const kind = detail.replace(/bench-\d+|[0-9a-f]{2}(:[0-9a-f]{2}){5}|\d+ ms/g, '…');
      why.set(kind, (why.get(kind) ?? 0) + 1);
    }
    notes.push(
      `${gaveUp.size} simulated power-on(s) ended in an error, the machine then silent until its watchdog: ${[...why]
        .slice(0, 3)
        .map(([d, n]) => `${n} × ${d}`)
        .join('; ')}`,
    );
  }
  if (cp.unavailable.retried > 0) notes.push(`${cp.unavailable.retried} API request(s) answered 503 (database pool busy) and were tried again`);
  notes.push(
    `${artifacts.realInstaller ? 'real' : 'stand-in'} installer files, ${Math.round(artifacts.image.bytes / 1024 / 1024)} MiB image; control plane on PostgreSQL (HTTP long-poll transport), agent and control plane in their own processes, the simulator in the bench's; ${seconds.toFixed(0)} s in all`,
  );
  const rows: Row[] = [
    { metric: 'machines', unit: '', better: 'none', sprout: count },
    { metric: 'deployed', unit: '', better: 'none', sprout: deployedAt.size },
    { metric: 'failed', unit: '', better: 'none', sprout: failed.size },
    { metric: 'machines per minute (commission + deploy)', unit: '/min', better: 'higher', sprout: perMinute },
    { metric: 'all deployed after', unit: 's', better: 'lower', sprout: deployedAt.size === count ? (lastDeployed - started) / 1000 : null },
    { metric: 'commission request → deployed p50', unit: 's', better: 'lower', sprout: percentile(durations, 50) },
    { metric: 'commission request → deployed p99', unit: 's', better: 'lower', sprout: percentile(durations, 99) },
    { metric: 'control plane CPU', unit: 's', better: 'lower', sprout: cpStats?.cpuSeconds ?? null },
    { metric: 'control plane peak RSS', unit: 'MiB', better: 'lower', sprout: cpStats?.peakRssMiB ?? null },
    { metric: 'agent CPU', unit: 's', better: 'lower', sprout: agentStats?.cpuSeconds ?? null },
    { metric: 'agent peak RSS', unit: 'MiB', better: 'lower', sprout: agentStats?.peakRssMiB ?? null },
    { metric: 'database size', unit: 'MiB', better: 'lower', sprout: Number(size.rows[0].bytes) / 1024 / 1024 },
  ];
  const allDone = deployedAt.size === count ? (lastDeployed - started) / 1000 : Infinity;
  // The issue's targets are for 1000 machines on one agent; a smaller run is held to the same
  // rate (60 s per 1000 machines) and the same memory ceilings, which only the 1000 run settles.
  const allowedSeconds = Math.max(1, count / 1000) * 60;
  const targets: SuiteResult['targets'] = [
    {
      what: `${count} machines from commission request to deployed in ≤ ${allowedSeconds.toFixed(0)} s${count === 1000 ? '' : ' (60 s per 1000 machines; the issue asks 1000 in 60 s)'}`,
      measured: Number.isFinite(allDone) ? `${allDone.toFixed(0)} s` : `${deployedAt.size} of ${count}`,
      met: deployedAt.size === count && allDone <= allowedSeconds,
    },
    { what: 'control-plane peak RSS ≤ 256 MiB', measured: `${cpStats?.peakRssMiB.toFixed(0)} MiB`, met: (cpStats?.peakRssMiB ?? Infinity) <= 256 },
    { what: 'agent peak RSS ≤ 128 MiB', measured: `${agentStats?.peakRssMiB.toFixed(0)} MiB`, met: (agentStats?.peakRssMiB ?? Infinity) <= 128 },
  ];
  return { suite: 'provisioning', peers: [], rows, targets, notes };
}
