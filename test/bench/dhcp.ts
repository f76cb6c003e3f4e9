/**
 * dhcp: the agent's DHCP server against Kea (memfile leases) and dnsmasq, each alone
 * in a server namespace at 198.18.0.1, loaded through a veth by Kea's perfdhcp acting
 * as a relay (giaddr 198.18.0.2) from a client namespace. The offered rate steps up;
 * at every step each server runs once, freshly started, in rotating order. The figure
 * is the highest rate of completed 4-way exchanges held with < 1 % drops. perfdhcp's
 * -u check counts addresses handed out twice. Sprout's leases are then checked to
 * survive a restart of the service.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SiteDesiredState } from '@sprout/kernel';
import { runTool, sleep, startChild, type BenchOptions, type Child, type Cleanup, type Row, type SuiteResult } from './bench-kit.ts';
import { namespacePair, type NamespacePair } from './bench-netns.ts';
import { ensurePeers, which } from './peers.ts';
import { startSproutService } from './sprout-process.ts';

const serverAddress = '198.18.0.1';
const relayAddress = '198.18.0.2';
const pool = { start: '198.18.1.0', end: '198.18.255.254' };

interface StepFigures {
  offered: number;
  /** Completed 4-way exchanges per second. */
  rate: number;
  dropPercent: number;
  avgDelayMs: number;
  maxDelayMs: number;
  duplicates: number;
}

function parsePerfdhcp(output: string, offered: number, seconds: number): StepFigures {
  const section = (name: string) => output.split(`***Statistics for: ${name}***`)[1]?.split('***')[0] ?? '';
  const num = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  const doStats = section('DISCOVER-OFFER');
  const raStats = section('REQUEST-ACK');
  const discovers = num(doStats, /sent packets: (\d+)/);
  const acks = num(raStats, /received packets: (\d+)/);
  return {
    offered,
    rate: acks / seconds,
    dropPercent: discovers > 0 ? (100 * (discovers - acks)) / discovers : 100,
    avgDelayMs: num(doStats, /avg delay: ([\d.]+) ms/) + num(raStats, /avg delay: ([\d.]+) ms/),
    maxDelayMs: Math.max(num(doStats, /max delay: ([\d.]+) ms/), num(raStats, /max delay: ([\d.]+) ms/)),
    duplicates: num(doStats, /non unique addresses: (\d+)/) + num(raStats, /non unique addresses: (\d+)/),
  };
}

type Server = { name: string; start(dir: string): Promise<{ stop(): Promise<Record<string, any> | void> }> };

export async function dhcpSuite(options: BenchOptions, cleanup: Cleanup): Promise<SuiteResult> {
  const notes: string[] = [];
  const missing = ensurePeers(['perfdhcp', 'kea-dhcp4', 'dnsmasq', 'ip'], options.log);
  if (missing.includes('perfdhcp') || missing.includes('ip')) throw new Error('perfdhcp (kea-admin) and ip are needed for the dhcp suite');
  const work = mkdtempSync(join(tmpdir(), 'sprout-bench-dhcp-'));
  cleanup.add('remove the dhcp work folder', () => rmSync(work, { recursive: true, force: true }));
  const ns = namespacePair(cleanup, [`${serverAddress}/16`], `${relayAddress}/16`);

  const state: SiteDesiredState = {
    site: { id: 'bench-site', name: 'bench' },
    networks: [
      {
        id: 'net-1',
        name: 'prov',
        cidr: '198.18.0.0/16',
        gateway: '198.18.0.254',
        dnsServers: [serverAddress],
        domain: 'lab.example',
        vlan: null,
        pxe: true,
        ranges: [{ kind: 'dynamic', ...pool }],
      },
    ],
    reservations: [],
    bootIntents: [],
  };
  const sproutSettings = {
    port: 67,
    address: serverAddress,
    interfaces: [serverAddress],
    serverId: serverAddress,
    relayPort: 67,
    leaseSeconds: 3600,
    // perfdhcp's clients are all unknown MACs; the default flood guard (256 outstanding
    // offers) is meant for a provisioning segment, not for a load test.
    maxPendingUnknownOffers: 1_000_000,
  };
  const servers: Server[] = [
    {
      name: 'Sprout',
      async start(dir) {
        const service = await startSproutService(cleanup, { service: 'dhcp', settings: sproutSettings, state, dataDir: dir }, ns.server);
        return { stop: () => service.finish() };
      },
    },
  ];
  if (which('kea-dhcp4')) servers.push({ name: 'Kea memfile', start: (dir) => startKea(cleanup, ns, dir) });
  else notes.push('kea-dhcp4 is missing: not compared');
  if (which('dnsmasq')) servers.push({ name: 'dnsmasq', start: (dir) => startDnsmasq(cleanup, ns, dir) });
  else notes.push('dnsmasq is missing: not compared');

  const rates = options.quick ? [500, 2000] : [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000];
  const seconds = options.quick ? 2 : 4;
  const steps = new Map<string, StepFigures[]>();
  const givenUp = new Set<string>();
  let runCount = 0;
  for (const [i, rate] of rates.entries()) {
    const order = [...servers.slice(i % servers.length), ...servers.slice(0, i % servers.length)];
    for (const server of order) {
      if (givenUp.has(server.name)) continue;
      const dir = join(work, `run-${++runCount}`);
      const running = await server.start(dir);
      await sleep(300);
      // Each run's clients are new MACs (-b), so -u can tell a second handout of an address.
      const base = `mac=02:${(runCount & 0xff).toString(16).padStart(2, '0')}:00:00:00:00`;
      const run = await runTool(
        'ip',
        [
          'netns',
          'exec',
          ns.client,
          'perfdhcp',
          '-4',
          '-l',
          relayAddress,
          '-r',
          String(rate),
          '-R',
          String(rate * seconds * 4),
          '-p',
          String(seconds),
          '-W',
          '1000000',
          '-u',
          '-b',
          base,
          serverAddress,
        ],
        (seconds + 20) * 1000,
      );
      await running.stop();
      const figures = parsePerfdhcp(run.output, rate, seconds);
      if (Number.isNaN(figures.rate)) throw new Error(`perfdhcp against ${server.name} printed no figures:\n${run.output.slice(-1500)}`);
      options.log(
        `dhcp ${rate}/s offered: ${server.name} ${Math.round(figures.rate)} exchanges/s, drops ${figures.dropPercent.toFixed(2)} %, avg ${figures.avgDelayMs.toFixed(2)} ms, duplicates ${figures.duplicates}`,
      );
      steps.set(server.name, [...(steps.get(server.name) ?? []), figures]);
      // Two steps above 5 % drops: higher rates only lose more, and cost time.
      if ((steps.get(server.name) ?? []).filter((s) => s.dropPercent > 5).length >= 2) givenUp.add(server.name);
    }
  }

  // Durability: bind some leases, restart the service on the same data folder, count them again.
  const durableDir = join(work, 'durable');
  const first = await startSproutService(cleanup, { service: 'dhcp', settings: sproutSettings, state, dataDir: durableDir }, ns.server);
  await runTool(
    'ip',
    [
      'netns',
      'exec',
      ns.client,
      'perfdhcp',
      '-4',
      '-l',
      relayAddress,
      '-r',
      '500',
      '-R',
      '100000',
      '-n',
      '1000',
      '-W',
      '1000000',
      '-b',
      'mac=02:ff:00:00:00:00',
      serverAddress,
    ],
    30_000,
  );
  const before = await first.finish();
  const second = await startSproutService(cleanup, { service: 'dhcp', settings: sproutSettings, state, dataDir: durableDir }, ns.server);
  const readyLine = second.child
    .output()
    .split('\n')
    .find((l) => l.startsWith('ready '));
  const after = readyLine ? JSON.parse(readyLine.slice(6)) : {};
  await second.finish();
  notes.push(`durability: ${before.leases ?? '?'} leases bound before an agent restart, ${after.leases ?? '?'} read back after it`);

  const sustained = (name: string): StepFigures | undefined => [...(steps.get(name) ?? [])].filter((s) => s.dropPercent < 1).sort((a, b) => b.rate - a.rate)[0];
  const duplicates = (name: string) => (steps.get(name) ?? []).reduce((sum, s) => sum + s.duplicates, 0);
  const peers = servers.filter((s) => s.name !== 'Sprout').map((s) => s.name);
  const byPeer = (f: (name: string) => number | null) => Object.fromEntries(peers.map((p) => [p, f(p)]));
  const rows: Row[] = [
    {
      metric: 'sustained 4-way exchanges/s (< 1 % drops)',
      unit: '/s',
      better: 'higher',
      sprout: sustained('Sprout')?.rate ?? 0,
      peers: byPeer((p) => sustained(p)?.rate ?? 0),
    },
    {
      metric: 'latency at that rate, DO + RA average',
      unit: 'ms',
      better: 'lower',
      sprout: sustained('Sprout')?.avgDelayMs ?? null,
      peers: byPeer((p) => sustained(p)?.avgDelayMs ?? null),
    },
    {
      metric: 'peak completed exchanges/s (any drops)',
      unit: '/s',
      better: 'higher',
      sprout: Math.max(0, ...(steps.get('Sprout') ?? []).map((s) => s.rate)),
      peers: byPeer((p) => Math.max(0, ...(steps.get(p) ?? []).map((s) => s.rate))),
    },
    { metric: 'duplicate addresses (must be 0)', unit: '', better: 'none', sprout: duplicates('Sprout'), peers: byPeer(duplicates) },
  ];
  for (const rate of rates) {
    const at = (name: string) => steps.get(name)?.find((s) => s.offered === rate);
    rows.push({
      metric: `  drops at ${rate}/s offered`,
      unit: '%',
      better: 'lower',
      sprout: at('Sprout')?.dropPercent ?? null,
      peers: byPeer((p) => at(p)?.dropPercent ?? null),
    });
  }
  notes.push(
    `perfdhcp relay mode, ${seconds} s per step, every server restarted fresh per step; Kea ${'memfile'} with its defaults (single-threaded in 2.2), dnsmasq with --dhcp-lease-max raised (its default 1000 would cap the test) and --no-ping (its default ping check answers almost nothing under load), Sprout with maxPendingUnknownOffers raised; Sprout's reports go to the agent's on-disk journal`,
  );
  const kea = sustained('Kea memfile')?.rate;
  const mine = sustained('Sprout')?.rate ?? 0;
  return {
    suite: 'dhcp',
    peers,
    rows,
    targets: [
      ...(kea
        ? [
            {
              what: 'sustained rate ≥ 1.0× Kea memfile',
              measured: `${(mine / kea).toFixed(2)}× (${Math.round(mine)} vs ${Math.round(kea)}/s)`,
              met: mine >= kea,
            },
          ]
        : []),
      { what: 'zero duplicate addresses', measured: String(duplicates('Sprout')), met: duplicates('Sprout') === 0 },
      {
        what: 'leases durable across an agent restart',
        measured: `${before.leases ?? '?'} → ${after.leases ?? '?'}`,
        met: before.leases > 0 && before.leases === after.leases,
      },
    ],
    notes,
  };
}

async function startKea(cleanup: Cleanup, ns: NamespacePair, dir: string): Promise<{ stop(): Promise<void> }> {
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  const config = {
    Dhcp4: {
      'interfaces-config': { interfaces: [`${ns.serverLink}/${serverAddress}`], 'dhcp-socket-type': 'udp' },
      'lease-database': { type: 'memfile', name: join(dir, 'leases.csv'), 'lfc-interval': 0 },
      'valid-lifetime': 3600,
      subnet4: [
        {
          subnet: '198.18.0.0/16',
          pools: [{ pool: `${pool.start} - ${pool.end}` }],
          'option-data': [
            { name: 'routers', data: '198.18.0.254' },
            { name: 'domain-name-servers', data: serverAddress },
            { name: 'domain-name', data: 'lab.example' },
          ],
        },
      ],
      loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'WARN' }],
    },
  };
  writeFileSync(join(dir, 'kea.json'), JSON.stringify(config));
  const child = startChild(cleanup, 'ip', ['netns', 'exec', ns.server, 'kea-dhcp4', '-c', join(dir, 'kea.json')], {
    env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir },
  });
  await child.waitFor('DHCP4_MULTI_THREADING_INFO', 20_000).catch(() => sleep(1000));
  return stopper(child);
}

async function startDnsmasq(cleanup: Cleanup, ns: NamespacePair, dir: string): Promise<{ stop(): Promise<void> }> {
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  const child = startChild(cleanup, 'ip', [
    'netns',
    'exec',
    ns.server,
    'dnsmasq',
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--port=0',
    '--pid-file=',
    '--user=root',
    // --no-ping: by default dnsmasq pings each new address and waits for no answer first,
    // which under load answers almost nothing (measured: 1 offer of 899 DISCOVERs at 300/s).
    // --interface is left out: with it, dnsmasq 2.90 answered only the first relayed DISCOVER.
    '--no-ping',
    `--dhcp-range=${pool.start},${pool.end},255.255.0.0,1h`,
    `--dhcp-leasefile=${join(dir, 'leases')}`,
    '--dhcp-lease-max=1000000',
    '--dhcp-option=option:router,198.18.0.254',
    `--dhcp-option=option:dns-server,${serverAddress}`,
  ]);
  await sleep(700);
  if (child.process.exitCode !== null) throw new Error(`dnsmasq did not start: ${child.output()}`);
  return stopper(child);
}

function stopper(child: Child): { stop(): Promise<void> } {
  return { stop: () => child.stop() };
}
