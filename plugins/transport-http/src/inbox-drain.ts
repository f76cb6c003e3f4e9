/**
 * Hands the rows of a durable inbox table to a handler one at a time, in the inbox's own
 * order, from any number of control-plane instances. A row is deleted only after its
 * handler resolved; a row whose handler failed comes back after a short delay.
 */
import type { Knex } from 'knex';

/** One inbox table: which row is next, how to name it, what it holds. */
export interface Inbox<T> {
  /** For log lines: `reports`, `dead letters`. */
  what: string;
  table: string;
  /** The next row a handler may take now (`available_at <= now()`), locked FOR UPDATE SKIP LOCKED. */
  next(trx: Knex.Transaction): Promise<Record<string, unknown> | undefined>;
  /** A where clause naming exactly this row. */
  keyOf(row: Record<string, unknown>): Record<string, unknown>;
  read(row: Record<string, unknown>): T;
}

export interface DrainTiming {
  /** How often the inbox is looked at without being kicked. */
  intervalMs: number;
  /** How long a row taken by one instance is hidden from the others (then it is another's to take). */
  claimMs: number;
  /** How long a row whose handler threw waits before it is handed out again. */
  retryDelayMs: number;
}

export interface DrainLogger {
  warn(o: object, m?: string): void;
}

/** `now() + ms` on the database's clock, which every instance shares. */
export function later(db: Knex, ms: number): Knex.Raw {
  return db.raw(`now() + ? * interval '1 millisecond'`, [ms]);
}

export function jsonOf<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export class InboxDrain<T> {
  private readonly timer: NodeJS.Timeout;
  private running?: Promise<void>;
  private kickedWhileRunning = false;
  private stopped = false;
  private lastFailure = '';

  constructor(
    private readonly db: Knex,
    private readonly inbox: Inbox<T>,
    private handler: (value: T) => Promise<void>,
    private readonly timing: DrainTiming,
    private readonly logger: DrainLogger,
  ) {
    this.timer = setInterval(() => this.kick(), timing.intervalMs);
    this.timer.unref();
    this.kick();
  }

  /** One handler per instance: registering again replaces it. */
  replaceHandler(handler: (value: T) => Promise<void>): void {
    this.handler = handler;
  }

  /** Drains now (or right after the drain in progress): new rows arrived. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.kickedWhileRunning = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.kickedWhileRunning) {
        this.kickedWhileRunning = false;
        this.kick();
      }
    });
  }

  /**
   * Takes no new rows; waits for the handler in progress for up to one claim, after which
   * its row is another instance's to take anyway.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    let graceOver: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise((resolve) => (graceOver = setTimeout(resolve, this.timing.claimMs)))]);
    clearTimeout(graceOver);
  }

  private async drain(): Promise<void> {
    try {
      while (!this.stopped) {
        const row = await this.claim();
        if (!row) break;
        await this.handle(row);
      }
      this.lastFailure = '';
    } catch (err) {
      // Said once per distinct failure: the timer retries every interval while the database is away.
      const message = (err as Error).message;
      if (message !== this.lastFailure) this.logger.warn({ err }, `transport-http: cannot drain the ${this.inbox.what} inbox; retrying`);
      this.lastFailure = message;
    }
  }

  /** Marks the next row taken, in a transaction of its own: the handler must not run inside one (PGlite has one connection). */
  private claim(): Promise<Record<string, unknown> | undefined> {
    return this.db.transaction(async (trx) => {
      const row = await this.inbox.next(trx);
      if (row) await trx(this.inbox.table).where(this.inbox.keyOf(row)).update({ available_at: later(trx, this.timing.claimMs) });
      return row;
    });
  }

  private async handle(row: Record<string, unknown>): Promise<void> {
    const key = this.inbox.keyOf(row);
    try {
      await this.handler(this.inbox.read(row));
    } catch (err) {
      this.logger.warn({ err, ...key }, `transport-http: the ${this.inbox.what} handler failed; handing the same one again in ${this.timing.retryDelayMs} ms`);
      await this.db(this.inbox.table).where(key).update({ available_at: later(this.db, this.timing.retryDelayMs) });
      return;
    }
    await this.db(this.inbox.table).where(key).delete();
  }
}
