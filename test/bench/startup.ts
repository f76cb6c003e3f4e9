/**
 * startup: what running Sprout costs before it does anything. The `sprout` binary's
 * `--version` and `--help` (median wall time of repeated runs) and the resident memory of
 * an idle site agent joined to a control plane, each for the compiled JavaScript the
 * binary runs (dist/) and, as the peer, for the TypeScript sources run through tsx —
 * which is how every `sprout` ran before the build.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cleanEnv, freePort, spawnSprout, sprout } from '@sprout/test-support/processes.ts';
import type { BenchOptions, Cleanup, Row, SuiteResult } from './bench-kit.ts';

const bin = join(import.meta.dirname, '../../cli/bin/sprout.js');
const modes = {
  dist: [] as string[],
  // as bin/sprout.js ran before the build: the preload, then tsx (by URL: the processes run in other folders)
  tsx: ['--conditions=sprout-source', '--import', new URL('../../kernel/src/preload.js', import.meta.url).href, '--import', import.meta.resolve('tsx')],
};
type Mode = keyof typeof modes;

function medianMs(mode: Mode, args: string[], runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const at = process.hrtime.bigint();
    const done = spawnSync(process.execPath, [...modes[mode], bin, ...args], { env: cleanEnv(), encoding: 'utf8', cwd: tmpdir() });
    if (done.status !== 0) throw new Error(`sprout ${args.join(' ')} (${mode}) failed: ${done.stderr}`);
    if (i > 0) times.push(Number(process.hrtime.bigint() - at) / 1e6); // the first run warms the disk cache
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

/** An agent joined to `server`, idle for `idleSeconds` after it runs: its RSS in MiB. */
interface Server {
  dir: string;
  port: number;
  env: Record<string, string>;
}

/** `sprout server` (built) on the embedded database in a fresh folder; a loaded machine may take a minute to start it. */
async function startServer(cleanup: Cleanup): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-bench-server-'));
  const port = await freePort();
  writeFileSync(join(dir, 'sprout.yaml'), `listen: 127.0.0.1:${port}\n`);
  mkdirSync(join(dir, 'home'));
  const env = { XDG_CONFIG_HOME: join(dir, 'home') };
  const server = spawnSprout(['server'], { cwd: dir, env });
  cleanup.add('control plane', async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await server.waitFor('sprout server is listening', 300_000);
  return { dir, port, env };
}

async function idleAgentRss(mode: Mode, server: Server, site: string, idleSeconds: number, cleanup: Cleanup): Promise<number> {
  const created = await sprout(['site', 'create', site, '--json'], { cwd: server.dir, env: server.env });
  if (created.code !== 0) throw new Error(`site create: ${created.stderr}`);
  const joinToken = JSON.parse(created.stdout).joinToken.token as string;
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-bench-agent-'));
  cleanup.add(`agent folder ${dataDir}`, () => rmSync(dataDir, { recursive: true, force: true }));
  const args = ['agent', 'run', '--control-plane', `http://127.0.0.1:${server.port}`, '--data-dir', dataDir, '--hostname', site, '--join-token', joinToken];
  const child = spawn(process.execPath, [...modes[mode], bin, ...args], {
    cwd: server.dir,
    env: { ...cleanEnv(), ...server.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  cleanup.add(`agent (${mode})`, async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const deadline = Date.now() + 300_000;
  while (!log.includes('sprout agent is running')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the agent (${mode}) did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const rss = rssMiB(child.pid!);
  child.kill('SIGTERM');
  await exited;
  return rss;
}

export async function startupSuite(options: BenchOptions, cleanup: Cleanup): Promise<SuiteResult> {
  // The targets are medians of 10 runs (issue 19), --quick or not.
  const runs = 10;
  const rows: Row[] = [];
  for (const [metric, args, n] of [
    ['sprout --version', ['--version'], runs],
    ['sprout --help', ['--help'], options.quick ? 3 : 5],
  ] as const) {
    options.log(`${metric}: ${n} runs each, built and through tsx`);
    rows.push({
      metric: `${metric} (median of ${n})`,
      unit: 'ms',
      better: 'lower',
      sprout: medianMs('dist', [...args], n),
      peers: { 'tsx (sources)': medianMs('tsx', [...args], n) },
    });
  }
  const server = await startServer(cleanup);
  const idleSeconds = options.quick ? 5 : 15;
  // One agent's RSS moves by a few MiB between runs (when the young generation last grew, the load): the median of several.
  const agents = options.quick ? 3 : 5;
  options.log(`idle agent: joined, then ${idleSeconds} s idle; ${agents} agents built, 1 through tsx`);
  const distRuns: number[] = [];
  for (let i = 0; i < agents; i++) distRuns.push(await idleAgentRss('dist', server, `bench-dist-${i}`, idleSeconds, cleanup));
  const dist = median(distRuns);
  const tsx = await idleAgentRss('tsx', server, 'bench-tsx', idleSeconds, cleanup);
  rows.push({
    metric: `idle agent RSS (${idleSeconds} s after joining, median of ${agents})`,
    unit: 'MiB',
    better: 'lower',
    sprout: dist,
    peers: { 'tsx (sources)': tsx },
  });
  const version = rows[0].sprout!;
  return {
    suite: 'startup',
    peers: ['tsx (sources)'],
    rows,
    targets: [
      { what: `sprout --version ≤ 300 ms (median of ${runs})`, measured: `${Math.round(version)} ms`, met: version <= 300 },
      {
        what: `idle agent ≤ 80 MiB RSS (median of ${agents})`,
        measured: `${dist.toFixed(1)} MiB (runs: ${distRuns.map((r) => r.toFixed(1)).join(', ')})`,
        met: dist <= 80,
      },
    ],
    notes: ['Wall times include Node’s own start; on a loaded machine they grow with the load average printed above.'],
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
