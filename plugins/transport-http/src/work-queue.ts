/**
 * The control-plane half of the HTTP transport: work waits in a table for agents' leases
 * (redelivered when not acknowledged in time, dead after `maxDeliver`); reports and dead
 * letters wait in durable inboxes that every instance with a handler drains in order, so
 * a report POST succeeds once stored, whether or not a handler runs or succeeds.
 */
import type { Knex } from 'knex';
import { powerCredentialKeys, type AgentHttpEndpoint, type AgentReport, type DeliveryInfo, type TransportHealth, type TransportProvider, type WorkItem } from '@sprout/kernel/sdk';
import { InboxDrain, jsonOf, later, type DrainLogger, type DrainTiming } from './inbox-drain.ts';
import { reportInbox, storeReports } from './report-inbox.ts';
import { deadLetterInbox, moveExhaustedWork, type DeadLetter } from './dead-letters.ts';

export interface HttpTransportSettings {
  ackWaitMs: number;
  maxDeliver: number;
  pollIntervalMs: number;
  /** Hours an acknowledged or dead item is kept (so a repeated publish of its id is still ignored); then deleted. */
  keepSettledHours?: number;
}

type ReportHandler = (report: AgentReport) => Promise<void>;
type DeadLetterHandler = (item: WorkItem, reason: string) => Promise<void>;

const quietLogger: DrainLogger = { warn: () => {} };

/** Items one poll leases at most. */
const leaseBatch = 50;
/** How often settled items past keepSettledHours are deleted. */
const pruneEveryMs = 10 * 60_000;

export class HttpWorkQueue implements TransportProvider, AgentHttpEndpoint {
  private reports?: InboxDrain<AgentReport>;
  private deadLetters?: InboxDrain<DeadLetter>;
  private closed = false;
  private readonly pruning: NodeJS.Timeout;
  readonly agentHttp: AgentHttpEndpoint = this;

  constructor(
    private readonly db: Knex,
    private readonly settings: HttpTransportSettings,
    private readonly logger: DrainLogger = quietLogger,
  ) {
    // Every instance prunes; deleting the same old rows twice is harmless.
    this.pruning = setInterval(() => {
      this.pruneSettled().catch((err) => this.logger.warn({ err }, 'transport-http: cannot delete settled work items; will try again'));
    }, pruneEveryMs).unref();
  }

  /**
   * Deletes work items acknowledged or dead more than keepSettledHours ago (24 by
   * default): without this the table grows by every site step ever run. Returns how many.
   */
  async pruneSettled(): Promise<number> {
    const cutoff = this.db.raw(`now() - ? * interval '1 hour'`, [this.settings.keepSettledHours ?? 24]);
    // Counted from RETURNING: knex-pglite does not turn a DELETE's result into a count.
    const deleted = await this.db('http_work_items')
      .where((q) => q.where('acked_at', '<', cutoff).orWhere('dead_at', '<', cutoff))
      .delete()
      .returning('id');
    return deleted.length;
  }

  /** Inbox rows an instance took are hidden from the others for as long as a work lease lasts. */
  private get drainTiming(): DrainTiming {
    return { intervalMs: 200, claimMs: this.settings.ackWaitMs, retryDelayMs: 500, batchSize: 100 };
  }

  async publishWork(item: WorkItem): Promise<void> {
    await this.publishWorkMany([item]);
  }

  async publishWorkMany(items: WorkItem[]): Promise<void> {
    if (items.length === 0) return;
    // Leased in created_at order: one statement's rows get now() apart by a microsecond each, in the order given.
    await this.db('http_work_items')
      .insert(items.map((item, i) => ({ id: item.id, site_id: item.siteId, item: JSON.stringify(item), created_at: this.db.raw(`now() + ? * interval '1 microsecond'`, [i]) })))
      .onConflict('id')
      .ignore();
  }

  async withdrawWork(siteId: string, ids: string[]): Promise<void> {
    await this.db('http_work_items').where({ site_id: siteId }).whereIn('id', ids).whereNull('acked_at').update({ dead_at: this.db.fn.now() });
  }

  async onReport(handler: ReportHandler): Promise<void> {
    await this.onReports(async (reports) => {
      for (const report of reports) await handler(report);
    });
  }

  /** Hands reports over a batch at a time (in order, one agent's never before its earlier ones). */
  async onReports(handler: (reports: AgentReport[]) => Promise<void>): Promise<void> {
    if (this.closed) return;
    if (this.reports) this.reports.replaceHandler(handler);
    else this.reports = new InboxDrain(this.db, reportInbox, handler, this.drainTiming, this.logger);
  }

  async onDeadLetter(handler: DeadLetterHandler): Promise<void> {
    if (this.closed) return;
    const handle = async (letters: DeadLetter[]) => {
      for (const { item, reason } of letters) await handler(item, reason);
    };
    if (this.deadLetters) this.deadLetters.replaceHandler(handle);
    else this.deadLetters = new InboxDrain(this.db, deadLetterInbox(this.settings.maxDeliver), handle, this.drainTiming, this.logger);
  }

  health(): TransportHealth {
    return { connected: !this.closed, detail: 'agents long-poll the control plane over HTTP' };
  }

  /** Ends long-polls in progress and stops draining; what is stored stays for the next instance. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pruning);
    await Promise.all([this.reports?.stop(), this.deadLetters?.stop()]);
  }

  async pollWork(siteId: string, waitMs: number, signal?: AbortSignal): Promise<{ item: WorkItem; delivery: DeliveryInfo }[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (signal?.aborted || this.closed) return [];
      const leased = await this.lease(siteId);
      if (leased.length > 0 || Date.now() >= deadline) return leased;
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.settings.pollIntervalMs, Math.max(deadline - Date.now(), 0))));
    }
  }

  /**
   * Leases up to `leaseBatch` items, oldest first: the agent runs them side by side (one
   * machine's in order) and keeps every lease it holds alive until it settles the item.
   * Exhausted items of the site die first.
   */
  private async lease(siteId: string): Promise<{ item: WorkItem; delivery: DeliveryInfo }[]> {
    const { maxDeliver, ackWaitMs } = this.settings;
    let died = 0;
    const leased = await this.db.transaction(async (trx) => {
      died = await moveExhaustedWork(trx, maxDeliver, siteId);
      const rows = await trx('http_work_items')
        .where({ site_id: siteId })
        .whereNull('acked_at')
        .whereNull('dead_at')
        .where('deliveries', '<', maxDeliver)
        .where('available_at', '<=', trx.fn.now())
        .orderBy([{ column: 'created_at' }, { column: 'id' }])
        .forUpdate()
        .skipLocked()
        .limit(leaseBatch);
      if (rows.length === 0) return [];
      await trx('http_work_items')
        .whereIn('id', rows.map((row) => row.id))
        .update({ deliveries: trx.raw('deliveries + 1'), available_at: later(trx, ackWaitMs) });
      return rows.map((row) => ({ item: jsonOf<WorkItem>(row.item), delivery: { attempt: row.deliveries + 1, maxAttempts: maxDeliver } }));
    });
    if (died > 0) this.deadLetters?.kick();
    return leased;
  }

  async settleWork(siteId: string, ids: string[], outcome: 'ack' | 'nak' | 'working'): Promise<void> {
    const rows = this.db('http_work_items').where({ site_id: siteId }).whereIn('id', ids).whereNull('acked_at').whereNull('dead_at');
    // An acknowledged item's opened BMC credentials (power steps, commands, polls) are not kept.
    if (outcome === 'ack') await rows.update({ acked_at: this.db.fn.now(), item: this.db.raw(`item ${powerCredentialKeys.map((key) => `#- '{payload,${key}}'`).join(' ')}`) });
    else if (outcome === 'working') await rows.update({ available_at: later(this.db, this.settings.ackWaitMs) });
    else await rows.update({ available_at: this.db.fn.now() });
  }

  /** Resolves once the reports are stored; the report handler gets them from the inbox. */
  async acceptReports(reports: AgentReport[]): Promise<void> {
    await storeReports(this.db, reports);
    this.reports?.kick();
  }
}
