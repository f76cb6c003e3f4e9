/**
 * dns: the agent's DNS service against dnsmasq and BIND 9, each serving the same few
 * hundred A and PTR records on its own loopback port, loaded by dnsperf with the same
 * query file. The servers take turns in rounds so the shared machine's noise falls on
 * all of them alike.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SiteDesiredState } from '@sprout/kernel';
import { freeUdpPort } from '../../cli/src/lab/lab-ports.ts';
import { runTool, startChild, type BenchOptions, type Cleanup, type Row, type SuiteResult } from './bench-kit.ts';
import { ensurePeers, which } from './peers.ts';
import { startSproutService } from './sprout-process.ts';
import { checkDnsFastPath } from './dns-fast-path-check.ts';

const hosts = 300;
const domain = 'lab.example';

function hostAt(i: number): { name: string; address: string; reverse: string; reverseZone: string } {
  const third = 40 + Math.floor(i / 250);
  const fourth = (i % 250) + 1;
  return { name: `host-${String(i + 1).padStart(3, '0')}.${domain}`, address: `198.18.${third}.${fourth}`, reverse: `${fourth}.${third}.18.198.in-addr.arpa`, reverseZone: `${third}.18.198.in-addr.arpa` };
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

  const servers: { name: string; port: number }[] = [];
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
  const check = checkDnsFastPath(state, all.slice(0, 40).flatMap((h) => [{ name: h.name, type: 1 }, { name: h.reverse, type: 12 }, { name: domain, type: 6 }]));
  notes.push(`answers from raw bytes checked identical to the parsed path for ${check.compared} queries (${check.fast} took the raw path)`);
  const sprout = await startSproutService(cleanup, { service: 'dns', settings: { port: sproutPort, address: '127.0.0.1' }, state, dataDir: join(work, 'sprout') });
  servers.push({ name: 'Sprout', port: sproutPort });

  if (which('dnsmasq')) {
    const port = await freeUdpPort();
    writeFileSync(join(work, 'hosts'), all.map((h) => `${h.address} ${h.name}`).join('\n') + '\n');
    const args = ['--keep-in-foreground', '--no-resolv', '--no-hosts', `--addn-hosts=${join(work, 'hosts')}`, `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--pid-file=', `--local=/${domain}/`, ...reverseZones.map((z) => `--local=/${z}/`), '--user=root', '--conf-file=/dev/null'];
    const child = startChild(cleanup, 'dnsmasq', args);
    await new Promise((r) => setTimeout(r, 500));
    if (child.process.exitCode !== null) notes.push(`dnsmasq did not start: ${child.output().slice(-300)}`);
    else servers.push({ name: 'dnsmasq', port });
  } else notes.push('dnsmasq is missing: not compared');

  if (which('named')) {
    const port = await freeUdpPort();
    const zoneFile = (zone: string, body: string[]) => {
      const file = join(work, `${zone}.zone`);
      writeFileSync(file, [`$TTL 300`, `@ IN SOA ns1.${domain}. hostmaster.${domain}. 1 3600 600 1209600 60`, `@ IN NS ns1.${domain}.`, ...body, ''].join('\n'));
      return file;
    };
    const zones = [
      { name: domain, file: zoneFile(domain, [`ns1 IN A 198.18.40.254`, ...all.map((h) => `${h.name}. IN A ${h.address}`)]) },
      ...reverseZones.map((z) => ({ name: z, file: zoneFile(z, all.filter((h) => h.reverseZone === z).map((h) => `${h.reverse}. IN PTR ${h.name}.`)) })),
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
      servers.push({ name: 'BIND', port });
    } catch (err) {
      notes.push(`BIND did not start: ${(err as Error).message.slice(0, 300)}`);
    }
  } else notes.push('BIND 9 (named) is missing: not compared');

  // Rounds: every server gets the same share of each stretch of the run.
  const rounds = options.quick ? 1 : 2;
  const perRound = Math.max(2, Math.round(options.seconds / rounds));
  const totals = new Map<string, DnsperfFigures[]>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) {
      const run = await runTool('dnsperf', ['-s', '127.0.0.1', '-p', String(server.port), '-d', join(work, 'queries'), '-l', String(perRound), '-c', '4', '-q', '200', '-t', '2'], (perRound + 15) * 1000);
      const figures = parseDnsperf(run.output);
      if (Number.isNaN(figures.completed)) throw new Error(`dnsperf against ${server.name} printed no figures:\n${run.output.slice(-1500)}`);
      options.log(`dns round ${round + 1}: ${server.name} ${Math.round(figures.completed / figures.seconds)} q/s, lost ${figures.lost}, NOERROR ${figures.noerrorShare}%`);
      totals.set(server.name, [...(totals.get(server.name) ?? []), figures]);
    }
  }
  const summary = (name: string) => {
    const runs = totals.get(name);
    if (!runs) return null;
    const completed = runs.reduce((s, r) => s + r.completed, 0);
    const seconds = runs.reduce((s, r) => s + r.seconds, 0);
    return {
      qps: completed / seconds,
      avg: runs.reduce((s, r) => s + r.avgLatencyMs * r.completed, 0) / Math.max(1, completed),
      max: Math.max(...runs.map((r) => r.maxLatencyMs)),
      lost: runs.reduce((s, r) => s + r.lost, 0),
      noerror: Math.min(...runs.map((r) => r.noerrorShare)),
    };
  };
  const health = await sprout.finish();
  const s = summary('Sprout')!;
  const peerNames = servers.filter((x) => x.name !== 'Sprout').map((x) => x.name);
  const pick = (f: (x: NonNullable<ReturnType<typeof summary>>) => number) => Object.fromEntries(peerNames.map((p) => [p, summary(p) ? f(summary(p)!) : null]));
  const rows: Row[] = [
    { metric: 'queries/s', unit: 'q/s', better: 'higher', sprout: s.qps, peers: pick((x) => x.qps) },
    { metric: 'average latency', unit: 'ms', better: 'lower', sprout: s.avg, peers: pick((x) => x.avg) },
    { metric: 'max latency', unit: 'ms', better: 'lower', sprout: s.max, peers: pick((x) => x.max) },
    { metric: 'lost queries', unit: '', better: 'none', sprout: s.lost, peers: pick((x) => x.lost) },
    { metric: 'NOERROR answers', unit: '%', better: 'none', sprout: s.noerror, peers: pick((x) => x.noerror) },
  ];
  const dnsmasq = summary('dnsmasq');
  notes.push(`${hosts} A + ${hosts} PTR records; dnsperf -c 4 -q 200, ${rounds} round(s) of ${perRound} s per server; Sprout answered ${health.queriesAnswered ?? '?'} queries, errors ${health.errors ?? '?'}`);
  notes.push(`BIND runs with its default worker threads (one per core); dnsmasq and Sprout are single-threaded`);
  return {
    suite: 'dns',
    peers: peerNames,
    rows,
    targets: dnsmasq ? [{ what: 'queries/s ≥ 1.0× dnsmasq', measured: `${(s.qps / dnsmasq.qps).toFixed(2)}×`, met: s.qps >= dnsmasq.qps }] : [],
    notes,
  };
}
