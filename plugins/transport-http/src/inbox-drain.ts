/**
 * Hands the rows of a durable inbox table to a handler, in the inbox's own order, from
 * any number of control-plane instances. An instance claims a batch of rows in one short
 * transaction, then hands the batch over outside it (PGlite has one connection: the
 * handler must not run inside the claim) and deletes it in one statement. When the handler
 * throws, the batch is handed over again one row at a time (the handler is idempotent):
 * rows of one order key (an agent's reports) are handled in order, a failing one comes
 * back after a short delay, and the batch's later rows of that key are released untouched
 * so they wait for it; rows of other keys go on. A claimed row is hidden from the other
 * instances for one claim, after which it is another's to take.
 */
import type { Knex } from 'knex';

export type InboxRow = Record<string, unknown>;

/** One inbox table: which rows are next, how to name them, what they hold. */
export interface Inbox<T> {
  /** For log lines: `reports`, `dead letters`. */
  what: string;
  table: string;
  /**
   * Up to `limit` rows a handler may take now (`available_at <= now()`), in the order they
   * are to be handled, locked FOR UPDATE SKIP LOCKED; for each order key a run from its
   * earliest row still in the table, so no row is handed out before an earlier one of its key.
   */
  next(trx: Knex.Transaction, limit: number): Promise<InboxRow[]>;
  /** The columns naming a row, in the order `keyOf` gives their values. */
  keyColumns: string[];
  keyOf(row: InboxRow): unknown[];
  /** Rows sharing an order key are handled in order, and a failed one holds back the later ones. */
  orderKeyOf(row: InboxRow): string;
  read(row: InboxRow): T;
}

export interface DrainTiming {
  /** How often the inbox is looked at without being kicked. */
  intervalMs: number;
  /** How long rows taken by one instance are hidden from the others (then they are another's to take). */
  claimMs: number;
  /** How long a row whose handler threw waits before it is handed out again. */
  retryDelayMs: number;
  /** How many rows one claim takes at most. */
  batchSize: number;
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
    private handler: (values: T[]) => Promise<void>,
    private readonly timing: DrainTiming,
    private readonly logger: DrainLogger,
  ) {
    this.timer = setInterval(() => this.kick(), timing.intervalMs);
    this.timer.unref();
    this.kick();
  }

  /** One handler per instance: registering again replaces it. */
  replaceHandler(handler: (values: T[]) => Promise<void>): void {
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
   * Takes no new rows; waits for the batch in progress for up to one claim, after which
   * its rows are another instance's to take anyway.
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
        const rows = await this.claim();
        if (rows.length === 0) break;
        await this.handle(rows);
      }
      this.lastFailure = '';
    } catch (err) {
      // Said once per distinct failure: the timer retries every interval while the database is away.
      const message = (err as Error).message;
      if (message !== this.lastFailure) this.logger.warn({ err }, `transport-http: cannot drain the ${this.inbox.what} inbox; retrying`);
      this.lastFailure = message;
    }
  }

  /** Marks the next batch taken, in a transaction of its own. */
  private claim(): Promise<InboxRow[]> {
    return this.db.transaction(async (trx) => {
      const rows = await this.inbox.next(trx, this.timing.batchSize);
      if (rows.length > 0) await this.rowsOf(trx, rows).update({ available_at: later(trx, this.timing.claimMs) });
      return rows;
    });
  }

  /** Hands the batch over; deletes what was handled, releases what a failure held back. */
  private async handle(rows: InboxRow[]): Promise<void> {
    if (rows.length > 1) {
      try {
        await this.handler(rows.map((row) => this.inbox.read(row)));
        await this.rowsOf(this.db, rows).delete();
        return;
      } catch {
        // One of them failed: hand them over one at a time to find which.
      }
    }
    await this.handleEach(rows);
  }

  private async handleEach(rows: InboxRow[]): Promise<void> {
    const handled: InboxRow[] = [];
    const heldBack: InboxRow[] = [];
    const failedKeys = new Set<string>();
    for (const row of rows) {
      const orderKey = this.inbox.orderKeyOf(row);
      if (this.stopped || failedKeys.has(orderKey)) {
        heldBack.push(row);
        continue;
      }
      try {
        await this.handler([this.inbox.read(row)]);
        handled.push(row);
      } catch (err) {
        failedKeys.add(orderKey);
        this.logger.warn({ err, key: this.inbox.keyOf(row) }, `transport-http: the ${this.inbox.what} handler failed; handing the same one again in ${this.timing.retryDelayMs} ms`);
        await this.rowsOf(this.db, [row]).update({ available_at: later(this.db, this.timing.retryDelayMs) });
      }
    }
    if (handled.length > 0) await this.rowsOf(this.db, handled).delete();
    if (heldBack.length > 0) await this.rowsOf(this.db, heldBack).update({ available_at: this.db.fn.now() });
  }

  private rowsOf(db: Knex, rows: InboxRow[]): Knex.QueryBuilder {
    return db(this.inbox.table).whereIn(this.inbox.keyColumns, rows.map((row) => this.inbox.keyOf(row)) as Knex.Value[][]);
  }
}
