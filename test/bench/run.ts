/**
 * `npm run bench [-- <suite>…] [--quick] [--machines N] [--sites N] [--inventory N] [--seconds S]`:
 * runs the benchmark suites, prints one table per suite (Sprout's figure, each peer's
 * from the same run, the ratio) and writes every figure to bench-results/<time>.json.
 * Every suite removes what it created (processes, namespaces, folders), also when it fails.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { Cleanup, renderTable, repoRoot, type BenchOptions, type Suite, type SuiteResult } from './bench-kit.ts';

const suites: Record<string, () => Promise<Suite>> = {
  dhcp: async () => (await import('./dhcp.ts')).dhcpSuite,
  dns: async () => (await import('./dns.ts')).dnsSuite,
  tftp: async () => (await import('./tftp.ts')).tftpSuite,
  api: async () => (await import('./api.ts')).apiSuite,
  ipam: async () => (await import('./ipam.ts')).ipamSuite,
  provisioning: async () => (await import('./provisioning.ts')).provisioningSuite,
  inventory: async () => (await import('./inventory.ts')).inventorySuite,
  convergence: async () => (await import('./convergence.ts')).convergenceSuite,
  startup: async () => (await import('./startup.ts')).startupSuite,
  boot: async () => (await import('./boot.ts')).bootSuite,
  scale: async () => (await import('./scale.ts')).scaleSuite,
};

function parseArgs(argv: string[]): { names: string[]; options: BenchOptions } {
  const names: string[] = [];
  const options: BenchOptions = {
    quick: false,
    machines: 100,
    machinesGiven: false,
    inventory: 100_000,
    seconds: 20,
    log: (line) => console.log(`  … ${line}`),
  };
  let secondsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${arg} needs a positive number`);
      return v;
    };
    if (arg === '--quick') options.quick = true;
    else if (arg === '--machines') (options.machines = value()), (options.machinesGiven = true);
    else if (arg === '--sites') options.sites = value();
    else if (arg === '--inventory') options.inventory = value();
    else if (arg === '--seconds') (options.seconds = value()), (secondsGiven = true);
    else if (arg === '--help' || arg === '-h') {
      console.log(
        `npm run bench [-- <suite>…] [--quick] [--seconds S] [--machines N] [--sites N] [--inventory N]\n--machines: per site in scale (default 1000, --quick 20), in all in provisioning (default 100)\n--sites: scale's sites (default 10, --quick 3)\nsuites: ${Object.keys(suites).join(', ')} (default: all)`,
      );
      process.exit(0);
    } else if (arg in suites) names.push(arg);
    else throw new Error(`unknown suite or option ${arg}; suites: ${Object.keys(suites).join(', ')}`);
  }
  if (options.quick && !secondsGiven) options.seconds = 4;
  if (options.quick) {
    options.machines = Math.min(options.machines, 20);
    options.inventory = Math.min(options.inventory, 10_000);
  }
  return { names: names.length > 0 ? names : Object.keys(suites), options };
}

const { names, options } = parseArgs(process.argv.slice(2));
const started = new Date();
const machine = {
  cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  memoryGiB: Math.round(totalmem() / 1024 ** 3),
  kernel: release(),
  node: process.version,
  loadAverageAtStart: loadavg()
    .map((l) => l.toFixed(2))
    .join(' '),
};
console.log(
  `Sprout benchmarks ${started.toISOString()} — ${machine.cpus}, ${machine.memoryGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}, load average ${machine.loadAverageAtStart}`,
);
console.log(`suites: ${names.join(', ')}${options.quick ? ' (quick)' : ''}\n`);

/**
 * Every suite starts Sprout processes that run the compiled JavaScript (dist/): the
 * control plane, site agent and site services under plain node, and `startup` and `boot`
 * through cli/bin/sprout.js. Stale dist/ would measure old code, so the build runs first
 * (`tsc -b`: about a second when nothing changed) and a failed build stops the run.
 */
function build(): void {
  const at = Date.now();
  const done = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, encoding: 'utf8' });
  if (done.status !== 0) {
    console.log(`${done.stdout ?? ''}${done.stderr ?? ''}${done.error ? `${done.error.message}\n` : ''}`);
    console.log(
      `build: \`npm run build\` failed (${done.status === null ? `signal ${done.signal}` : `exit ${done.status}`}): the benchmarks run the compiled dist/ and were not started`,
    );
    process.exit(1);
  }
  console.log(`build: \`npm run build\` brought dist/ up to date in ${((Date.now() - at) / 1000).toFixed(1)} s\n`);
}
build();

const results: (SuiteResult & { seconds: number; error?: string })[] = [];
const cleanup = new Cleanup();
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (interrupted) return;
    interrupted = true;
    console.log(`\n${signal}: cleaning up`);
    await cleanup.runAll(options.log);
    process.exit(130);
  });
}

for (const name of names) {
  const at = Date.now();
  console.log(`-- ${name}`);
  const suiteCleanup = new Cleanup();
  cleanup.add(`suite ${name}`, () => suiteCleanup.runAll(options.log));
  try {
    const result = await (await suites[name]())(options, suiteCleanup);
    const seconds = (Date.now() - at) / 1000;
    results.push({ ...result, seconds });
    console.log(`${renderTable(result)}\n(${seconds.toFixed(0)} s)\n`);
  } catch (err) {
    const seconds = (Date.now() - at) / 1000;
    console.log(`== ${name} == FAILED after ${seconds.toFixed(0)} s: ${(err as Error).stack ?? err}\n`);
    results.push({ suite: name, peers: [], rows: [], targets: [], notes: [], seconds, error: (err as Error).message });
  } finally {
    await suiteCleanup.runAll(options.log);
  }
}

const dir = join(repoRoot, 'bench-results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(
  file,
  JSON.stringify(
    {
      startedAt: started.toISOString(),
      seconds: (Date.now() - started.getTime()) / 1000,
      machine: {
        ...machine,
        loadAverageAtEnd: loadavg()
          .map((l) => l.toFixed(2))
          .join(' '),
      },
      options: { ...options, log: undefined },
      results,
    },
    null,
    2,
  ),
);
console.log(`results: ${file} (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s in all)`);
process.exit(results.some((r) => r.error) ? 1 : 0);
