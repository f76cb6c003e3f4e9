/**
 * The agent's side of the UDP workers (settings `workers`): forks them, hands each the
 * bound UDP socket and the current zones, sends every new table, restarts a worker that
 * dies, and keeps each worker's last counters so health() adds them to the agent's own.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket as UdpSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { stopWorkerProcesses } from '@sprout/kernel/sdk';
import { addStats, newStats, type DnsStats } from './respond.ts';
import type { Zone, ZoneSet } from './zones.ts';

/** A table as sent to a worker: the zones as entries (a Map does not survive the channel). */
export interface WorkerTable {
  zones: [string, Zone][];
  records: ZoneSet['records'];
  serial: number;
}

export interface WorkerState {
  pid: number | undefined;
  /** The serial of the table the worker answers from; undefined until it has one. */
  serial: number | undefined;
  stats: DnsStats;
}

// Run as TypeScript through tsx in development, as JavaScript once compiled.
const source = import.meta.url.endsWith('.ts');
const entry = fileURLToPath(new URL(source ? './udp-worker.ts' : './udp-worker.js', import.meta.url));
const restartDelayMs = 1000;

export class UdpWorkers {
  private readonly workers: { child: ChildProcess; state: WorkerState }[] = [];
  /** Counters of workers that have exited, so totals never go backwards. */
  private readonly retired = newStats();
  private table: WorkerTable;
  private stopping = false;
  private readonly firstTables: Promise<void>[] = [];

  constructor(
    count: number,
    private readonly socket: UdpSocket,
    table: WorkerTable,
    private readonly onError: (message: string) => void,
  ) {
    this.table = table;
    for (let i = 0; i < count; i++) this.start();
  }

  private start(): void {
    const execArgv = source ? ['--import', import.meta.resolve('tsx')] : [];
    const child = fork(entry, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const state: WorkerState = { pid: child.pid, serial: undefined, stats: newStats() };
    const worker = { child, state };
    this.workers.push(worker);
    let answering: () => void = () => undefined;
    this.firstTables.push(new Promise<void>((resolve) => (answering = resolve)));
    child.on('message', (message: { type: string; serial?: number; stats?: DnsStats; message?: string }) => {
      if (message.type === 'table') {
        state.serial = message.serial;
        answering();
      } else if (message.type === 'stats') state.stats = message.stats!;
      else if (message.type === 'error') this.onError(message.message!);
    });
    child.on('error', (err) => this.onError(`DNS worker ${child.pid}: ${err.message}`));
    child.once('exit', (code, signal) => {
      this.workers.splice(this.workers.indexOf(worker), 1);
      addStats(this.retired, state.stats);
      answering();
      if (this.stopping) return;
      this.onError(`DNS worker ${child.pid} exited (${signal ?? code}); another is started in ${restartDelayMs} ms`);
      setTimeout(() => this.stopping || this.start(), restartDelayMs).unref();
    });
    // The table first: the socket's first datagram must find one.
    child.send({ type: 'table', ...this.table });
    child.send({ type: 'socket' }, this.socket);
  }

  /** Resolves once every worker started so far has its table (or has exited), at most after `timeoutMs`; false on the timeout. */
  async ready(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const result = await Promise.race([Promise.all(this.firstTables).then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Sends a new table to every worker; each answers from it once it has built it (state.serial). */
  update(table: WorkerTable): void {
    this.table = table;
    for (const { child } of this.workers) if (child.connected) child.send({ type: 'table', ...table });
  }

  states(): WorkerState[] {
    return this.workers.map((w) => w.state);
  }

  /** Every worker's counters plus those of workers that have exited. */
  totals(): DnsStats {
    const sum = newStats();
    addStats(sum, this.retired);
    for (const { state } of this.workers) addStats(sum, state.stats);
    return sum;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await stopWorkerProcesses(this.workers.map((w) => w.child));
  }
}
