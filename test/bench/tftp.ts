/**
 * tftp: the agent's TFTP service against tftpd-hpa, both serving the same 20 MB file
 * on loopback ports, fetched with curl and atftp at blksize 512 and 1468, one at a
 * time and ten in parallel. Every download's sha256 is checked. Servers alternate per
 * measurement; each single figure is the median of a few transfers. CPU and peak RSS
 * count a server's whole process tree: Sprout's agent and its transfer workers,
 * tftpd-hpa's listener and the child it forks per transfer.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeUdpPort } from '../../cli/src/lab/lab-ports.ts';
import { runTool, sleep, startChild, type BenchOptions, type Cleanup, type Row, type SuiteResult } from './bench-kit.ts';
import { ensurePeers, which } from './peers.ts';
import { startSproutService } from './sprout-process.ts';

const fileName = 'boot-20m.img';

export async function tftpSuite(options: BenchOptions, cleanup: Cleanup): Promise<SuiteResult> {
  const notes: string[] = [];
  ensurePeers(['in.tftpd', 'atftp', 'curl'], options.log);
  const work = mkdtempSync(join(tmpdir(), 'sprout-bench-tftp-'));
  cleanup.add('remove the tftp work folder', () => rmSync(work, { recursive: true, force: true }));
  const root = join(work, 'root');
  mkdirSync(root);
  const bytes = options.quick ? 5 * 1024 * 1024 : 20 * 1024 * 1024;
  const content = randomBytes(bytes);
  writeFileSync(join(root, fileName), content);
  const expected = createHash('sha256').update(content).digest('hex');

  const servers: { name: string; port: number; pid: number }[] = [];
  const sproutPort = await freeUdpPort();
  // One transfer worker per core beyond the first, beside the agent's own process (BENCH_TFTP_WORKERS overrides).
  const workers = Number(process.env.BENCH_TFTP_WORKERS ?? Math.max(0, availableParallelism() - 1));
  const sprout = await startSproutService(cleanup, {
    service: 'tftp',
    settings: { port: sproutPort, address: '127.0.0.1', root, maxBlksize: 1468, workers },
    state: {},
    dataDir: join(work, 'sprout'),
  });
  servers.push({ name: 'Sprout', port: sproutPort, pid: sprout.child.process.pid! });
  if (which('in.tftpd')) {
    const port = await freeUdpPort();
    const child = startChild(cleanup, 'in.tftpd', [
      '--listen',
      '--foreground',
      '--address',
      `127.0.0.1:${port}`,
      '--user',
      'root',
      '--blocksize',
      '1468',
      '--secure',
      root,
    ]);
    await sleep(500);
    if (child.process.exitCode !== null) notes.push(`tftpd-hpa did not start: ${child.output().slice(-300)}`);
    else servers.push({ name: 'tftpd-hpa', port, pid: child.process.pid! });
  } else notes.push('tftpd-hpa (in.tftpd) is missing: not compared');

  const clients = [
    ...(which('curl')
      ? [
          {
            name: 'curl',
            args: (port: number, blksize: number, out: string) =>
              ['curl', ['-sS', '--tftp-blksize', String(blksize), '-o', out, `tftp://127.0.0.1:${port}/${fileName}`]] as const,
          },
        ]
      : []),
    ...(which('atftp')
      ? [
          {
            name: 'atftp',
            args: (port: number, blksize: number, out: string) =>
              ['atftp', ['--option', `blksize ${blksize}`, '-g', '-r', fileName, '-l', out, '127.0.0.1', String(port)]] as const,
          },
        ]
      : []),
  ];
  if (clients.length === 0) throw new Error('neither curl nor atftp is available');

  let downloads = 0;
  let badSums = 0;
  /** One download; returns its seconds, or null when it failed or its sum is wrong. */
  const fetchOnce = async (client: (typeof clients)[number], port: number, blksize: number): Promise<number | null> => {
    const out = join(work, `out-${++downloads}`);
    const [command, args] = client.args(port, blksize, out);
    const at = process.hrtime.bigint();
    const run = await runTool(command, [...args], 120_000);
    const seconds = Number(process.hrtime.bigint() - at) / 1e9;
    let ok = run.code === 0;
    if (ok) {
      const sum = createHash('sha256').update(readFileSync(out)).digest('hex');
      if (sum !== expected) (ok = false), (badSums += 1);
    }
    rmSync(out, { force: true });
    if (!ok) options.log(`${command} from port ${port} blksize ${blksize} failed: ${run.output.slice(-300)}`);
    return ok ? seconds : null;
  };

  const cpu = new Map(servers.map((x) => [x.name, 0]));
  const served = new Map(servers.map((x) => [x.name, 0]));
  const peakRss = new Map(servers.map((x) => [x.name, 0]));
  /**
   * Runs `work` against one server, adding its process tree's CPU and sampling its RSS
   * meanwhile. tftpd-hpa ignores SIGCHLD, so its exited children's CPU reaches no
   * counter: every child's CPU is sampled every 25 ms while it lives (the last < 25 ms of
   * each is missed, in tftpd-hpa's favour).
   */
  const measured = async <T>(server: (typeof servers)[number], work: () => Promise<T>): Promise<T> => {
    const rootBefore = ownCpuTicks(server.pid);
    const childBefore = new Map(childrenOf(server.pid).map((pid) => [pid, ownCpuTicks(pid)]));
    const childLast = new Map(childBefore);
    const sample = () => {
      let kib = rssKiB(server.pid);
      for (const pid of childrenOf(server.pid)) {
        childLast.set(pid, Math.max(childLast.get(pid) ?? 0, ownCpuTicks(pid)));
        kib += rssKiB(pid);
      }
      peakRss.set(server.name, Math.max(peakRss.get(server.name)!, kib / 1024));
    };
    const sampler = setInterval(sample, 25);
    try {
      return await work();
    } finally {
      clearInterval(sampler);
      sample();
      let ticks = ownCpuTicks(server.pid) - rootBefore;
      for (const [pid, last] of childLast) ticks += last - (childBefore.get(pid) ?? 0);
      cpu.set(server.name, cpu.get(server.name)! + ticks / 100);
    }
  };
  const mib = bytes / 1024 / 1024;
  const repeats = options.quick ? 1 : 3;
  const rows: Row[] = [];
  const peers = servers.filter((s) => s.name !== 'Sprout').map((s) => s.name);
  const targets: SuiteResult['targets'] = [];
  for (const blksize of [512, 1468]) {
    for (const client of clients) {
      const times = new Map<string, number[]>();
      for (let r = 0; r < repeats; r++) {
        for (const server of r % 2 === 0 ? servers : [...servers].reverse()) {
          const s = await measured(server, () => fetchOnce(client, server.port, blksize));
          served.set(server.name, served.get(server.name)! + mib);
          if (s !== null) times.set(server.name, [...(times.get(server.name) ?? []), s]);
        }
      }
      const median = (name: string) => {
        const t = [...(times.get(name) ?? [])].sort((a, b) => a - b);
        return t.length ? mib / t[Math.floor(t.length / 2)] : null;
      };
      const row: Row = {
        metric: `single, ${client.name}, blksize ${blksize}`,
        unit: 'MiB/s',
        better: 'higher',
        sprout: median('Sprout'),
        peers: Object.fromEntries(peers.map((p) => [p, median(p)])),
      };
      rows.push(row);
      options.log(`tftp ${row.metric}: ${servers.map((s) => `${s.name} ${median(s.name)?.toFixed(1) ?? 'failed'}`).join(', ')}`);
    }
    // Ten at once with curl (the first client): aggregate MiB/s over the wall time of all ten.
    const parallel = 10;
    const aggregate = new Map<string, number | null>();
    for (const server of blksize === 512 ? servers : [...servers].reverse()) {
      const at = process.hrtime.bigint();
      const results = await measured(server, () => Promise.all(Array.from({ length: parallel }, () => fetchOnce(clients[0], server.port, blksize))));
      served.set(server.name, served.get(server.name)! + parallel * mib);
      const seconds = Number(process.hrtime.bigint() - at) / 1e9;
      aggregate.set(server.name, results.every((r) => r !== null) ? (parallel * mib) / seconds : null);
    }
    rows.push({
      metric: `aggregate, ${parallel} × ${clients[0].name}, blksize ${blksize}`,
      unit: 'MiB/s',
      better: 'higher',
      sprout: aggregate.get('Sprout') ?? null,
      peers: Object.fromEntries(peers.map((p) => [p, aggregate.get(p) ?? null])),
    });
    options.log(`tftp aggregate blksize ${blksize}: ${[...aggregate].map(([n, v]) => `${n} ${v?.toFixed(1) ?? 'failed'}`).join(', ')}`);
  }
  const health = await sprout.finish();
  // One target per row: every client, blksize and concurrency must be at least tftpd-hpa's.
  if (peers.includes('tftpd-hpa')) {
    for (const row of rows) {
      const peer = row.peers?.['tftpd-hpa'] ?? null;
      const ratio = row.sprout !== null && peer ? row.sprout / peer : null;
      targets.push({
        what: `${row.metric} ≥ 1.0× tftpd-hpa`,
        measured: ratio === null ? 'failed' : `${ratio.toFixed(2)}× (${row.sprout!.toFixed(1)} vs ${peer!.toFixed(1)} MiB/s)`,
        met: ratio !== null && ratio >= 1,
      });
    }
  }
  const perGiB = (name: string) => (served.get(name) ? (cpu.get(name)! / served.get(name)!) * 1024 : null);
  rows.push(
    {
      metric: 'CPU per GiB served, all processes, all rows',
      unit: 's',
      better: 'lower',
      sprout: perGiB('Sprout'),
      peers: Object.fromEntries(peers.map((p) => [p, perGiB(p)])),
    },
    {
      metric: 'peak RSS, all processes (sampled every 25 ms)',
      unit: 'MiB',
      better: 'lower',
      sprout: peakRss.get('Sprout')!,
      peers: Object.fromEntries(peers.map((p) => [p, peakRss.get(p)!])),
    },
  );
  notes.push(
    `Sprout runs its agent process and ${workers} transfer worker process(es) (the agent takes transfers too, the least loaded process gets each); tftpd-hpa forks one process per transfer. CPU counts every process of a server, exited ones included; RSS is the peak of the sum over live processes`,
  );
  notes.push(
    `${mib} MiB file, ${repeats} transfer(s) per single figure (median), every download's sha256 checked: ${badSums} wrong; Sprout served ${health.completedTransfers ?? '?'} transfers, ${health.failedTransfers ?? '?'} failed`,
  );
  notes.push('times include starting the client process (a few ms per transfer)');
  return { suite: 'tftp', peers, rows, targets, notes };
}

/** CPU ticks of a process and of the children it has waited for; 0 once it has exited. */
function ownCpuTicks(pid: number): number {
  try {
    // Fields after the command name: state(0) … utime(11) stime(12) cutime(13) cstime(14).
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return 0;
  }
}

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Live children of a process's main thread (Node's forks and tftpd-hpa's per-transfer forks come from it). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
