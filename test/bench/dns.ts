/**
 * dns: the agent's DNS service against dnsmasq and BIND 9, each serving the same few
 * hundred A and PTR records on its own loopback port, loaded by dnsperf with the same
 * query file. The servers take turns in rounds so the shared machine's noise falls on
 * all of them alike.
 */
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { SiteDesiredState } from '@sprout/kernel';
import { freeUdpPort } from '../../cli/src/lab/lab-ports.ts';
import { processStats, runTool, startChild, type BenchOptions, type Cleanup, type Row, type SuiteResult } from './bench-kit.ts';
import { ensurePeers, which } from './peers.ts';
import { startSproutService } from './sprout-process.ts';
import { checkDnsFastPath } from './dns-fast-path-check.ts';

const hosts = 300;
const domain = 'lab.example';

function hostAt(i: number): { name: string; address: string; reverse: string; reverseZone: string } {
  const third = 40 + Math.floor(i / 250);
  const fourth = (i % 250) + 1;
  return {
    name: `host-${String(i + 1).padStart(3, '0')}.${domain}`,
    address: `198.18.${third}.${fourth}`,
    reverse: `${fourth}.${third}.18.198.in-addr.arpa`,
    reverseZone: `${third}.18.198.in-addr.arpa`,
  };
}

interface DnsperfFigures {
  sent: number;
  completed: number;
  lost: number;
  seconds: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  noerrorShare: number;
}

function parseDnsperf(output: string): DnsperfFigures {
  const num = (re: RegExp) => Number(re.exec(output)?.[1] ?? NaN);
  return {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    seconds: num(/Run time \(s\):\s+([\d.]+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    maxLatencyMs: num(/Average Latency \(s\):.*max ([\d.]+)\)/) * 1000,
    noerrorShare: num(/NOERROR\s+\d+ \(([\d.]+)%\)/),
  };
}

/** Latencies in microseconds, counted per microsecond up to dnsperf's timeout: percentiles without keeping millions of numbers. */
class LatencyHistogram {
  readonly counts = new Uint32Array(2_000_001);
  total = 0;

  add(seconds: number): void {
    this.counts[Math.min(this.counts.length - 1, Math.round(seconds * 1e6))] += 1;
    this.total += 1;
  }

  /** The p-th percentile in milliseconds. */
  percentile(p: number): number {
    const rank = Math.ceil((p / 100) * this.total);
    let seen = 0;
    for (let us = 0; us < this.counts.length; us++) {
      seen += this.counts[us];
      if (seen >= rank) return us / 1000;
    }
    return NaN;
  }
}

/** Reads dnsperf -v output: each answered query is `> RCODE name type latency-seconds`; lost ones (`> T …`) carry no latency. */
async function readVerbose(file: string, histogram: LatencyHistogram): Promise<string> {
  let summary = '';
  const lines = createInterface({ input: createReadStream(file) });
  for await (const line of lines) {
    if (line.startsWith('> ')) {
      const space = line.lastIndexOf(' ');
      const seconds = Number(line.slice(space + 1));
      if (!line.startsWith('> T ') && Number.isFinite(seconds)) histogram.add(seconds);
    } else summary += `${line}\n`;
  }
  return summary;
}

/** CPU seconds used so far and the sum of peak RSS of a server's processes. */
async function usage(pids: number[]): Promise<{ cpuSeconds: number; peakRssMiB: number }> {
  const stats = await Promise.all(pids.map((pid) => processStats(pid)));
  return { cpuSeconds: stats.reduce((s, x) => s + (x?.cpuSeconds ?? 0), 0), peakRssMiB: stats.reduce((s, x) => s + (x?.peakRssMiB ?? 0), 0) };
}

export async function dnsSuite(options: BenchOptions, cleanup: Cleanup): Promise<SuiteResult> {
  const notes: string[] = [];
  const missing = ensurePeers(['dnsperf', 'dnsmasq', 'named'], options.log);
  if (missing.includes('dnsperf')) throw new Error('dnsperf is not installed and could not be installed');
  const work = mkdtempSync(join(tmpdir(), 'sprout-bench-dns-'));
  cleanup.add('remove the dns work folder', () => rmSync(work, { recursive: true, force: true }));
  const all = Array.from({ length: hosts }, (_, i) => hostAt(i));
  const reverseZones = [...new Set(all.map((h) => h.reverseZone))];

  // The same query file for every server: every A and every PTR, interleaved.
  writeFileSync(join(work, 'queries'), all.flatMap((h) => [`${h.name} A`, `${h.reverse} PTR`]).join('\n') + '\n');

  const servers: { name: string; port: number; pids: number[] }[] = [];
  // Sprout: the agent's dns service in its own process.
  const sproutPort = await freeUdpPort();
  const state: SiteDesiredState = {
    site: { id: 'bench-site', name: 'bench' },
    networks: [{ id: 'net-1', name: 'prov', cidr: '198.18.40.0/23', gateway: '198.18.40.254', dnsServers: [], domain, vlan: null, pxe: true, ranges: [] }],
    dnsRecords: all.flatMap((h) => [
      { siteId: 'bench-site', zone: domain, name: h.name, type: 'A' as const, value: h.address },
      { siteId: 'bench-site', zone: h.reverseZone, name: h.reverse, type: 'PTR' as const, value: h.name },
    ]),
  };
  const check = checkDnsFastPath(
    state,
    all.slice(0, 40).flatMap((h) => [
      { name: h.name, type: 1 },
      { name: h.reverse, type: 12 },
      { name: domain, type: 6 },
    ]),
  );
  notes.push(`answers from raw bytes checked identical to the parsed path for ${check.compared} queries (${check.fast} took the raw path)`);
  // One UDP worker per core beyond the first, beside the agent's own process (BENCH_DNS_WORKERS overrides).
  const workers = Number(process.env.BENCH_DNS_WORKERS ?? Math.max(0, availableParallelism() - 1));
  const sprout = await startSproutService(cleanup, {
    service: 'dns',
    settings: { port: sproutPort, address: '127.0.0.1', workers },
    state,
    dataDir: join(work, 'sprout'),
  });
  const ready = JSON.parse(/ready (\{.*\})/.exec(sprout.child.output())![1]) as { workers?: { pid: number }[] };
  servers.push({ name: 'Sprout', port: sproutPort, pids: [sprout.child.process.pid!, ...(ready.workers ?? []).map((w) => w.pid)] });

  if (which('dnsmasq')) {
    const port = await freeUdpPort();
    writeFileSync(join(work, 'hosts'), all.map((h) => `${h.address} ${h.name}`).join('\n') + '\n');
    const args = [
      '--keep-in-foreground',
      '--no-resolv',
      '--no-hosts',
      `--addn-hosts=${join(work, 'hosts')}`,
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--pid-file=',
      `--local=/${domain}/`,
      ...reverseZones.map((z) => `--local=/${z}/`),
      '--user=root',
      '--conf-file=/dev/null',
    ];
    const child = startChild(cleanup, 'dnsmasq', args);
    await new Promise((r) => setTimeout(r, 500));
    if (child.process.exitCode !== null) notes.push(`dnsmasq did not start: ${child.output().slice(-300)}`);
    else servers.push({ name: 'dnsmasq', port, pids: [child.process.pid!] });
  } else notes.push('dnsmasq is missing: not compared');

  if (which('named')) {
    const port = await freeUdpPort();
    const zoneFile = (zone: string, body: string[]) => {
      const file = join(work, `${zone}.zone`);
      writeFileSync(
        file,
        [`$TTL 300`, `@ IN SOA ns1.${domain}. hostmaster.${domain}. 1 3600 600 1209600 60`, `@ IN NS ns1.${domain}.`, ...body, ''].join('\n'),
      );
      return file;
    };
    const zones = [
      { name: domain, file: zoneFile(domain, [`ns1 IN A 198.18.40.254`, ...all.map((h) => `${h.name}. IN A ${h.address}`)]) },
      ...reverseZones.map((z) => ({
        name: z,
        file: zoneFile(
          z,
          all.filter((h) => h.reverseZone === z).map((h) => `${h.reverse}. IN PTR ${h.name}.`),
        ),
      })),
    ];
    writeFileSync(
      join(work, 'named.conf'),
      [
        `options { directory "${work}"; listen-on port ${port} { 127.0.0.1; }; listen-on-v6 { none; }; recursion no; pid-file none; dnssec-validation no; notify no; };`,
        ...zones.map((z) => `zone "${z.name}" { type primary; file "${z.file}"; };`),
        '',
      ].join('\n'),
    );
    const child = startChild(cleanup, 'named', ['-g', '-u', 'root', '-c', join(work, 'named.conf')]);
    try {
      await child.waitFor('running', 20_000);
      servers.push({ name: 'BIND', port, pids: [child.process.pid!] });
    } catch (err) {
      notes.push(`BIND did not start: ${(err as Error).message.slice(0, 300)}`);
    }
  } else notes.push('BIND 9 (named) is missing: not compared');

  // Rounds: every server gets the same share of each stretch of the run.
  const rounds = options.quick ? 1 : 2;
  const perRound = Math.max(2, Math.round(options.seconds / rounds));
  // A warm-up per server, not recorded: the figures are the steady state (Node's JIT
  // compiles the answering path in the first second; the C servers lose nothing by it).
  for (const server of servers) {
    await runTool('dnsperf', ['-s', '127.0.0.1', '-p', String(server.port), '-d', join(work, 'queries'), '-l', '2', '-c', '4', '-q', '200', '-t', '2'], 20_000);
  }
  const totals = new Map<string, DnsperfFigures[]>();
  const latencies = new Map(servers.map((x) => [x.name, new LatencyHistogram()]));
  const cpu = new Map(servers.map((x) => [x.name, 0]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) {
      // -v prints every answer with its latency: to a file, read afterwards for the percentiles.
      const verbose = join(work, 'dnsperf.out');
      const fd = openSync(verbose, 'w');
      const before = await usage(server.pids);
      const run = await runTool(
        'dnsperf',
        ['-v', '-s', '127.0.0.1', '-p', String(server.port), '-d', join(work, 'queries'), '-l', String(perRound), '-c', '4', '-q', '200', '-t', '2'],
        (perRound + 15) * 1000,
        { stdio: ['ignore', fd, 'pipe'] },
      );
      const after = await usage(server.pids);
      closeSync(fd);
      cpu.set(server.name, cpu.get(server.name)! + after.cpuSeconds - before.cpuSeconds);
      const output = (await readVerbose(verbose, latencies.get(server.name)!)) + run.output;
      rmSync(verbose, { force: true });
      const figures = parseDnsperf(output);
      if (Number.isNaN(figures.completed)) throw new Error(`dnsperf against ${server.name} printed no figures:\n${output.slice(-1500)}`);
      options.log(
        `dns round ${round + 1}: ${server.name} ${Math.round(figures.completed / figures.seconds)} q/s, lost ${figures.lost}, NOERROR ${figures.noerrorShare}%`,
      );
      totals.set(server.name, [...(totals.get(server.name) ?? []), figures]);
    }
  }
  const memory = new Map(await Promise.all(servers.map(async (x) => [x.name, (await usage(x.pids)).peakRssMiB] as const)));
  const summary = (name: string) => {
    const runs = totals.get(name);
    if (!runs) return null;
    const completed = runs.reduce((s, r) => s + r.completed, 0);
    const seconds = runs.reduce((s, r) => s + r.seconds, 0);
    return {
      qps: completed / seconds,
      avg: runs.reduce((s, r) => s + r.avgLatencyMs * r.completed, 0) / Math.max(1, completed),
      p50: latencies.get(name)!.percentile(50),
      p99: latencies.get(name)!.percentile(99),
      max: Math.max(...runs.map((r) => r.maxLatencyMs)),
      lost: runs.reduce((s, r) => s + r.lost, 0),
      noerror: Math.min(...runs.map((r) => r.noerrorShare)),
      cores: cpu.get(name)! / seconds,
      rss: memory.get(name)!,
    };
  };
  const health = await sprout.finish();
  const s = summary('Sprout')!;
  const peerNames = servers.filter((x) => x.name !== 'Sprout').map((x) => x.name);
  const pick = (f: (x: NonNullable<ReturnType<typeof summary>>) => number) => Object.fromEntries(peerNames.map((p) => [p, summary(p) ? f(summary(p)!) : null]));
  const rows: Row[] = [
    { metric: 'queries/s', unit: 'q/s', better: 'higher', sprout: s.qps, peers: pick((x) => x.qps) },
    { metric: 'average latency', unit: 'ms', better: 'lower', sprout: s.avg, peers: pick((x) => x.avg) },
    { metric: 'p50 latency', unit: 'ms', better: 'lower', sprout: s.p50, peers: pick((x) => x.p50) },
    { metric: 'p99 latency', unit: 'ms', better: 'lower', sprout: s.p99, peers: pick((x) => x.p99) },
    { metric: 'max latency', unit: 'ms', better: 'lower', sprout: s.max, peers: pick((x) => x.max) },
    { metric: 'lost queries', unit: '', better: 'none', sprout: s.lost, peers: pick((x) => x.lost) },
    { metric: 'NOERROR answers', unit: '%', better: 'none', sprout: s.noerror, peers: pick((x) => x.noerror) },
    { metric: 'CPU under load, all processes', unit: 'cores', better: 'none', sprout: s.cores, peers: pick((x) => x.cores) },
    { metric: 'peak RSS, all processes', unit: 'MiB', better: 'lower', sprout: s.rss, peers: pick((x) => x.rss) },
  ];
  const dnsmasq = summary('dnsmasq');
  const bind = summary('BIND');
  notes.push(
    `${hosts} A + ${hosts} PTR records; dnsperf -v -c 4 -q 200, a 2 s warm-up then ${rounds} round(s) of ${perRound} s per server; Sprout answered ${health.queriesAnswered ?? '?'} queries, errors ${health.errors ?? '?'}`,
  );
  notes.push(
    `Sprout runs its agent process and ${workers} UDP worker process(es) on one socket; BIND runs its default worker threads (one per core); dnsmasq is single-threaded. CPU and RSS count every process of a server (RSS: the sum of each process's peak)`,
  );
  const targets = [];
  if (dnsmasq) targets.push({ what: 'queries/s ≥ 1.0× dnsmasq', measured: `${(s.qps / dnsmasq.qps).toFixed(2)}×`, met: s.qps >= dnsmasq.qps });
  if (bind) targets.push({ what: 'queries/s ≥ 1.0× BIND', measured: `${(s.qps / bind.qps).toFixed(2)}×`, met: s.qps >= bind.qps });
  if (dnsmasq)
    targets.push({
      what: "p99 latency ≤ dnsmasq's",
      measured: `${s.p99.toFixed(2)} ms vs ${dnsmasq.p99.toFixed(2)} ms (${(dnsmasq.p99 / s.p99).toFixed(2)}×)`,
      met: s.p99 <= dnsmasq.p99,
    });
  return { suite: 'dns', peers: peerNames, rows, targets, notes };
}
