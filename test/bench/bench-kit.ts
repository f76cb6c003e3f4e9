/**
 * What every benchmark suite shares: the options of a run, the shape of a suite's
 * result (Sprout's figure and each peer's from the same run), the table printed per
 * suite, child processes that are always stopped, and a cleanup list run at the end
 * even after a failure. Nothing here measures anything by itself.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Node's arguments for a Sprout process (control-plane.mjs, site-agent.mjs,
 * sprout-service.mjs): none, for they run the compiled JavaScript under plain node as
 * `sprout server` and `sprout agent run` do (cli/bin/sprout.js adds no flag either; the
 * kernel's preload only spares tsx's loader, which is not used). BENCH_CPU_PROF=<dir>
 * adds --cpu-prof, for diagnosis.
 */
export function sproutNodeArgs(): string[] {
  return process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
}

export interface BenchOptions {
  /** Shorter load periods and fewer steps: a smoke run of the harness, not figures to quote. */
  quick: boolean;
  /** Simulated machines in the provisioning suite; per site in the scale suite when given (`machinesGiven`). */
  machines: number;
  machinesGiven: boolean;
  /** Sites in the scale suite (10, or 3 with --quick, when unset). */
  sites?: number;
  /** Machines in the inventory suite's database. */
  inventory: number;
  /** Seconds of load for the fixed-period tools (dnsperf, autocannon); the issue asks 20. */
  seconds: number;
  log: (line: string) => void;
}

/** One measured figure: Sprout's, and each peer's measured in the same invocation. */
export interface Row {
  metric: string;
  unit: string;
  /** Which way is better; decides how the ratio is taken so that > 1 always means Sprout is better. */
  better: 'higher' | 'lower' | 'none';
  sprout: number | null;
  peers?: Record<string, number | null>;
}

export interface Target {
  what: string;
  /** The measured ratio or figure the target is judged on. */
  measured: string;
  met: boolean;
}

export interface SuiteResult {
  suite: string;
  peers: string[];
  rows: Row[];
  targets: Target[];
  notes: string[];
}

export type Suite = (options: BenchOptions, cleanup: Cleanup) => Promise<SuiteResult>;

/** Sprout ÷ peer for throughput, peer ÷ Sprout for latency: above 1 Sprout is better. */
export function ratio(row: Row, peer: string): number | null {
  const theirs = row.peers?.[peer];
  if (row.better === 'none' || row.sprout === null || theirs === null || theirs === undefined) return null;
  if (row.better === 'higher') return theirs === 0 ? null : row.sprout / theirs;
  return row.sprout === 0 ? null : theirs / row.sprout;
}

export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function renderTable(result: SuiteResult): string {
  const header = ['metric', 'Sprout', ...result.peers.flatMap((p) => [p, `× vs ${p}`])];
  const lines = result.rows.map((row) => [
    `${row.metric}${row.unit ? ` (${row.unit})` : ''}`,
    formatNumber(row.sprout),
    ...result.peers.flatMap((p) => {
      const r = ratio(row, p);
      return [formatNumber(row.peers?.[p]), r === null ? '' : `${r.toFixed(2)}×`];
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [`== ${result.suite} ==`, fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)];
  if (result.peers.length > 0) out.push("(× above 1 means Sprout is better: its rate ÷ the peer's, or the peer's latency ÷ its own)");
  for (const t of result.targets) out.push(`target ${t.met ? 'MET   ' : 'MISSED'} ${t.what}: ${t.measured}`);
  for (const n of result.notes) out.push(`note: ${n}`);
  return out.join('\n');
}

/** Undo actions, run last-in first-out at the end of a suite or of the run. */
export class Cleanup {
  private readonly actions: { what: string; run: () => unknown }[] = [];

  add(what: string, run: () => unknown): void {
    this.actions.push({ what, run });
  }

  async runAll(log: (line: string) => void): Promise<void> {
    while (this.actions.length > 0) {
      const action = this.actions.pop()!;
      try {
        await action.run();
      } catch (err) {
        log(`cleanup "${action.what}" failed: ${(err as Error).message}`);
      }
    }
  }
}

/** A process the bench started; stopped (TERM, then KILL) by the cleanup it was registered with. */
export interface Child {
  process: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** `outputLimit`: characters of output kept (beyond it the older half goes); 1 000 000 unless given. */
export function startChild(cleanup: Cleanup, command: string, args: string[], options: SpawnOptions & { outputLimit?: number } = {}): Child {
  const { outputLimit = 1_000_000, ...spawnOptions } = options;
  const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  let output = '';
  const keep = (d: Buffer) => {
    output += d.toString();
    if (output.length > outputLimit) output = output.slice(-outputLimit / 2);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      output += `\n${err.message}`;
      resolve(-1);
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (!running()) return;
    child.kill('SIGTERM');
    const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
    if (!done && running()) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  cleanup.add(`stop ${command} ${args.slice(0, 3).join(' ')}`, stop);
  return {
    process: child,
    output: () => output,
    exited,
    stop,
    waitFor: (text, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const check = () => {
          const match = typeof text === 'string' ? (output.includes(text) ? text : null) : (output.match(text)?.[0] ?? null);
          if (match !== null) return resolve(match);
          if (!running())
            return reject(
              new Error(`${command} ${args.join(' ')} exited (${child.exitCode ?? child.signalCode}) before printing ${text}:\n${output.slice(-3000)}`),
            );
          if (Date.now() > deadline) return reject(new Error(`${command} did not print ${text} within ${timeoutMs} ms:\n${output.slice(-3000)}`));
          setTimeout(check, 50);
        };
        check();
      }),
  };
}

/** Runs a command to its end (bounded by timeoutMs) and returns its output. */
export async function runTool(
  command: string,
  args: string[],
  timeoutMs: number,
  options: SpawnOptions & { outputLimit?: number } = {},
): Promise<{ code: number | null; output: string }> {
  const cleanup = new Cleanup();
  const child = startChild(cleanup, command, args, options);
  const timer = setTimeout(() => void child.stop(), timeoutMs);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, output: child.output() };
}

/** CPU seconds (user + system) and peak RSS of a process, from /proc. */
export async function processStats(pid: number): Promise<{ cpuSeconds: number; peakRssMiB: number } | null> {
  const { readFile } = await import('node:fs/promises');
  try {
    const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
    const ticks = Number(stat[11]) + Number(stat[12]);
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuSeconds: ticks / 100, peakRssMiB: hwm / 1024 };
  } catch {
    return null;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Notes when each listed machine was first seen ready or deployed, and which failed;
 * returns the newly ready ones (to be deployed next, as an operator's script would).
 */
export function noteStatuses(
  statuses: Map<string, { status: string; reason?: string | null }>,
  seen: { readyAt: Map<string, number>; deployedAt: Map<string, number>; failed: Map<string, string> },
): string[] {
  const newlyReady: string[] = [];
  for (const [hostname, { status, reason }] of statuses) {
    if (status === 'ready' && !seen.readyAt.has(hostname)) seen.readyAt.set(hostname, Date.now()), newlyReady.push(hostname);
    else if (status === 'deployed' && !seen.deployedAt.has(hostname)) seen.deployedAt.set(hostname, Date.now());
    else if (status.startsWith('failed_') || status === 'broken') seen.failed.set(hostname, `${status}: ${reason}`);
  }
  return newlyReady;
}

/** The first five failed machines with their reasons, for a suite's notes. */
export function failedNote(failed: Map<string, string>): string {
  return `failed: ${[...failed]
    .slice(0, 5)
    .map(([hostname, reason]) => `${hostname} ${reason}`)
    .join('; ')}`;
}
