/**
 * The agent's side of the TFTP transfer workers (settings `workers`): forks them, hands
 * each accepted transfer to one, relays aborts, collects outcomes and byte counts, and
 * restarts a worker that dies (its running transfers count as failed; clients retry).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopWorkerProcesses } from '@sprout/kernel/sdk';
import type { AcceptedTransfer } from './open-transfer.ts';
import type { TftpErrorCode } from './packets.ts';
import type { TransferOutcome } from './read-transfer.ts';
import type { ToWorker } from './transfer-worker.ts';

/** What a delegated transfer ends with: an outcome, or the error packet the agent answers the request with. */
export type WorkerResult = { outcome: TransferOutcome } | { refused: { code: TftpErrorCode; message: string; log?: string } };

/** A transfer running in a worker, as the server holds it. */
export interface DelegatedTransfer {
  /** True until the client has acknowledged a block (the worker says so once). */
  readonly starting: boolean;
  readonly done: Promise<WorkerResult>;
  abort(reason: string, endedBy: 'server' | 'client'): void;
}

export interface TransferWorkerState {
  pid: number | undefined;
  /** Loaded and taking transfers. */
  ready: boolean;
  activeTransfers: number;
  /** Transfers this worker process has ended, whatever the outcome. */
  finishedTransfers: number;
}

type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; id: number }
  | { type: 'outcome'; id: number; outcome: TransferOutcome }
  | { type: 'refused'; id: number; code: TftpErrorCode; message: string; log?: string }
  | { type: 'bytes'; total: number };

interface Pending {
  starting: boolean;
  resolve: (result: WorkerResult) => void;
}

interface Worker {
  child: ChildProcess;
  ready: boolean;
  pending: Map<number, Pending>;
  finished: number;
  bytesSent: number;
}

// Run as TypeScript through tsx in development, as JavaScript once compiled.
const source = import.meta.url.endsWith('.ts');
const entry = fileURLToPath(new URL(source ? './transfer-worker.ts' : './transfer-worker.js', import.meta.url));
const restartDelayMs = 1000;

export class TransferWorkers {
  private readonly workers: Worker[] = [];
  private nextId = 1;
  /** Where the round-robin among equally loaded workers starts next. */
  private turn = 0;
  /** DATA bytes of workers that have exited, so the total never goes backwards. */
  private retiredBytes = 0;
  private stopping = false;
  private readonly readiness: Promise<void>[] = [];

  constructor(
    count: number,
    private readonly sharedFileMaxBytes: number,
    private readonly onError: (message: string) => void,
  ) {
    for (let i = 0; i < count; i++) this.start();
  }

  private start(): void {
    const execArgv = source ? ['--import', import.meta.resolve('tsx')] : [];
    const child = fork(entry, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const worker: Worker = { child, ready: false, pending: new Map(), finished: 0, bytesSent: 0 };
    this.workers.push(worker);
    let ready: () => void = () => undefined;
    this.readiness.push(new Promise<void>((resolve) => (ready = resolve)));
    const settle = (id: number, result: WorkerResult) => {
      const pending = worker.pending.get(id);
      if (!pending) return;
      worker.pending.delete(id);
      worker.finished += 1;
      pending.resolve(result);
    };
    child.on('message', (message: FromWorker) => {
      if (message.type === 'ready') {
        worker.ready = true;
        ready();
      } else if (message.type === 'progress') {
        const pending = worker.pending.get(message.id);
        if (pending) pending.starting = false;
      } else if (message.type === 'outcome') settle(message.id, { outcome: message.outcome });
      else if (message.type === 'refused') settle(message.id, { refused: { code: message.code, message: message.message, log: message.log } });
      else if (message.type === 'bytes') worker.bytesSent = message.total;
    });
    child.on('error', (err) => this.onError(`TFTP worker ${child.pid}: ${err.message}`));
    child.once('exit', (code, signal) => {
      this.workers.splice(this.workers.indexOf(worker), 1);
      this.retiredBytes += worker.bytesSent;
      ready();
      const how = signal ?? code;
      for (const id of [...worker.pending.keys()]) {
        settle(id, { outcome: { ok: false, bytesSent: 0, reason: `transfer worker ${child.pid} exited (${how})` } });
      }
      if (this.stopping) return;
      this.onError(`TFTP worker ${child.pid} exited (${how}); another is started in ${restartDelayMs} ms`);
      setTimeout(() => this.stopping || this.start(), restartDelayMs).unref();
    });
  }

  /** Resolves once every worker started so far is loaded (or has exited), at most after `timeoutMs`; false on the timeout. */
  async ready(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const result = await Promise.race([Promise.all(this.readiness).then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Transfers running in the least loaded ready worker; Infinity when none is ready. */
  leastLoad(): number {
    let least = Number.POSITIVE_INFINITY;
    for (const worker of this.workers) if (worker.ready && worker.child.connected) least = Math.min(least, worker.pending.size);
    return least;
  }

  /** Hands the transfer to the least loaded ready worker (round-robin among equals); null when none is ready. */
  run(accepted: AcceptedTransfer): DelegatedTransfer | null {
    const load = this.leastLoad();
    if (load === Number.POSITIVE_INFINITY || this.stopping) return null;
    const count = this.workers.length;
    let worker: Worker | undefined;
    for (let i = 0; i < count && !worker; i++) {
      const candidate = this.workers[(this.turn + i) % count];
      if (candidate.ready && candidate.child.connected && candidate.pending.size === load) worker = candidate;
    }
    if (!worker) return null;
    this.turn = (this.workers.indexOf(worker) + 1) % count;
    const id = this.nextId++;
    const pending: Pending = { starting: true, resolve: () => undefined };
    const done = new Promise<WorkerResult>((resolve) => (pending.resolve = resolve));
    worker.pending.set(id, pending);
    const chosen = worker;
    this.post(chosen, { type: 'transfer', id, accepted, sharedFileMaxBytes: this.sharedFileMaxBytes });
    return {
      get starting() {
        return pending.starting;
      },
      done,
      abort: (reason, endedBy) => this.post(chosen, { type: 'abort', id, reason, endedBy }),
    };
  }

  /** DATA payload bytes the workers have sent, retransmissions included (reported every 200 ms). */
  bytesSent(): number {
    let total = this.retiredBytes;
    for (const worker of this.workers) total += worker.bytesSent;
    return total;
  }

  states(): TransferWorkerState[] {
    return this.workers.map((w) => ({ pid: w.child.pid, ready: w.ready, activeTransfers: w.pending.size, finishedTransfers: w.finished }));
  }

  /** Asks every worker to end its transfers (the clients get an error packet) and exit; kills one that takes over 5 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    await stopWorkerProcesses(this.workers.map((w) => w.child));
  }

  private post(worker: Worker, message: ToWorker): void {
    if (worker.child.connected) worker.child.send(message);
  }
}
