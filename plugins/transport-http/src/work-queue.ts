/**
 * The control-plane half of the HTTP transport. It keeps no tables: work is the kernel's
 * outbox row, leased straight from it (`ctx.workQueue`: redelivered when not settled in
 * time, exhausted after `maxDeliver` and then handed to the dead-letter handler); a long
 * poll sleeps until the outbox says its site has new work (NOTIFY), with a slow safety
 * look. Reports are applied while the agent's POST waits: the report handler's per-agent
 * sequence check is their one deduplication point, and a POST that fails leaves them in
 * the agent's journal, which sends them again.
 */
import {
  SproutError,
  type AgentReport,
  type DeliveryInfo,
  type TransportHealth,
  type TransportProvider,
  type WorkItem,
  type WorkQueue,
} from '@sprout/kernel/sdk';

export interface HttpTransportSettings {
  ackWaitMs: number;
  maxDeliver: number;
  /** How long a waiting long poll sleeps at most without a notification before it looks again (the safety poll). */
  pollIntervalMs: number;
}

/**
 * What the plugin's agent routes (`GET /v1/agents/{id}/work`, `POST …/work/settle`,
 * `POST …/reports`, see agent-routes.ts) hand the calls to.
 */
export interface AgentHttpEndpoint {
  /**
   * Waits up to `waitMs` for work of the site; returns leased items (redelivered when not
   * settled in time). Stops without leasing anything once `signal` aborts (the agent hung up).
   */
  pollWork(siteId: string, waitMs: number, signal?: AbortSignal): Promise<{ item: WorkItem; delivery: DeliveryInfo }[]>;
  /**
   * `ack`: done, never again; `nak`: deliver again soon; `working`: still at it, extend
   * the lease (so a long task is not handed to another agent). Other sites' items are ignored.
   */
  settleWork(siteId: string, ids: string[], outcome: 'ack' | 'nak' | 'working'): Promise<void>;
  /**
   * Takes reports from an agent, in sequence order; resolves once the report handler has
   * applied them (its per-agent sequence check is the one deduplication point). Rejects
   * when no handler runs or it failed; the agent keeps them in its journal and retries.
   */
  acceptReports(reports: AgentReport[]): Promise<void>;
}

type ReportsHandler = (reports: AgentReport[]) => Promise<void>;
type DeadLetterHandler = (item: WorkItem, reason: string) => Promise<void>;

interface Logger {
  warn(o: object, m?: string): void;
}

const quietLogger: Logger = { warn: () => {} };

/** Items one poll leases at most. */
const leaseBatch = 50;
/** Exhausted items handed to the dead-letter handler at a time. */
const deadLetterBatch = 50;
/** How often exhausted items are looked for (a lease that ran out with no agent polling, a nak'd last delivery). */
const deadLetterEveryMs = 1000;

export class HttpWorkQueue implements TransportProvider, AgentHttpEndpoint {
  readonly leasesFromOutbox = true;
  private reportsHandler?: ReportsHandler;
  private deadLetterHandler?: DeadLetterHandler;
  private deadLetterTimer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private lastSweepFailure = '';
  private closed = false;
  private readonly closing = new AbortController();

  constructor(
    private readonly queue: WorkQueue,
    private readonly settings: HttpTransportSettings,
    private readonly logger: Logger = quietLogger,
  ) {}

  /** The outbox row is the queued item: there is nothing to hand over. Checks each item is an outbox row's. */
  async publishWork(item: WorkItem): Promise<void> {
    await this.publishWorkMany([item]);
  }

  async publishWorkMany(items: WorkItem[]): Promise<void> {
    const foreign = items.find((item) => !/^wi-\d+$/.test(item.id));
    if (foreign) throw new Error(`transport-http leases work from the control plane's outbox; ${foreign.id} is not an outbox item`);
  }

  async withdrawWork(siteId: string, ids: string[]): Promise<void> {
    await this.queue.withdraw(siteId, ids);
  }

  async onReport(handler: (report: AgentReport) => Promise<void>): Promise<void> {
    await this.onReports(async (reports) => {
      for (const report of reports) await handler(report);
    });
  }

  /** The handler `acceptReports` applies each POST's reports with (one per instance: registering again replaces it). */
  async onReports(handler: ReportsHandler): Promise<void> {
    if (this.closed) return;
    this.reportsHandler = handler;
  }

  async onDeadLetter(handler: DeadLetterHandler): Promise<void> {
    if (this.closed) return;
    this.deadLetterHandler = handler;
    if (!this.deadLetterTimer) {
      this.deadLetterTimer = setInterval(() => this.sweep(), deadLetterEveryMs);
      this.deadLetterTimer.unref();
      this.sweep();
    }
  }

  health(): TransportHealth {
    return { connected: !this.closed, detail: 'agents long-poll the control plane over HTTP' };
  }

  /** Ends long polls in progress and stops handing out dead letters; the queue stays in the outbox for the next instance. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    clearInterval(this.deadLetterTimer);
    this.reportsHandler = undefined;
    await this.sweeping;
  }

  /**
   * Leases the site's work, oldest first; when there is none, sleeps until the outbox says
   * there may be (or a lease of the site ends, or the safety poll), then looks again.
   */
  async pollWork(siteId: string, waitMs: number, signal?: AbortSignal): Promise<{ item: WorkItem; delivery: DeliveryInfo }[]> {
    const deadline = Date.now() + waitMs;
    const stop = signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal;
    for (;;) {
      if (stop.aborted) return [];
      const leased = await this.queue.lease(siteId, { ackWaitMs: this.settings.ackWaitMs, maxDeliver: this.settings.maxDeliver, limit: leaseBatch });
      const left = deadline - Date.now();
      if (leased.length > 0 || left <= 0) return leased;
      await this.queue.waitForWork(siteId, Math.min(left, this.settings.pollIntervalMs), stop);
    }
  }

  async settleWork(siteId: string, ids: string[], outcome: 'ack' | 'nak' | 'working'): Promise<void> {
    await this.queue.settle(siteId, ids, outcome, this.settings.ackWaitMs);
    // A last delivery given back is exhausted now: its step need not wait for the next sweep.
    if (outcome === 'nak') this.sweep();
  }

  /**
   * Applies the reports (in sequence order) before answering: the whole batch in one go,
   * else one at a time up to the first that fails, so those before it stay applied and the
   * handler counts that one's failures (it sets a report aside after a few).
   */
  async acceptReports(reports: AgentReport[]): Promise<void> {
    const handler = this.reportsHandler;
    if (!handler)
      throw new SproutError('SPROUT_ERR_UNAVAILABLE', 'this control plane is not taking reports yet (starting or stopping); the agent sends them again');
    try {
      await handler(reports);
    } catch (err) {
      if (reports.length === 1) throw err;
      for (const report of reports) await handler([report]);
    }
  }

  /** Hands exhausted items to the dead-letter handler; an item is given up once its handler resolved. */
  private sweep(): void {
    if (this.sweeping || this.closed || !this.deadLetterHandler) return;
    this.sweeping = this.sweepOnce()
      .then(() => {
        this.lastSweepFailure = '';
      })
      .catch((err) => {
        // Said once per distinct failure: the timer retries every second while the database is away.
        const message = (err as Error).message;
        if (message !== this.lastSweepFailure) this.logger.warn({ err }, 'transport-http: cannot hand out dead letters; retrying');
        this.lastSweepFailure = message;
      })
      .finally(() => {
        this.sweeping = undefined;
      });
  }

  private async sweepOnce(): Promise<void> {
    const { maxDeliver, ackWaitMs } = this.settings;
    for (;;) {
      // Hidden from the other instances for one lease while this one's handler runs.
      const exhausted = await this.queue.takeExhausted(maxDeliver, ackWaitMs, deadLetterBatch);
      for (const { item, deliveries } of exhausted) {
        const reason = `not acknowledged after ${deliveries} deliveries`;
        try {
          await this.deadLetterHandler!(item, reason);
        } catch (err) {
          // Comes back once its claim ends.
          this.logger.warn({ err, item: item.id }, 'transport-http: the dead-letter handler failed; it gets the item again');
          continue;
        }
        await this.queue.markDead([item.id], reason);
      }
      if (exhausted.length < deadLetterBatch || this.closed) return;
    }
  }
}
