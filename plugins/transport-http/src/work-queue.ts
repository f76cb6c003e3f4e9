/**
 * The control-plane half of the HTTP transport: work items wait in a table, agents
 * long-poll for them and get a lease; an item not acknowledged before its lease ends is
 * delivered again, and after `maxDeliver` deliveries it goes to the dead-letter handler.
 * Reports arrive by HTTP POST and go straight to the report handler.
 */
import type { Knex } from 'knex';
import type { AgentHttpEndpoint, AgentReport, DeliveryInfo, TransportHealth, TransportProvider, WorkItem } from '@sprout/kernel';

export interface HttpTransportSettings {
  ackWaitMs: number;
  maxDeliver: number;
  pollIntervalMs: number;
}

type ReportHandler = (report: AgentReport) => Promise<void>;
type DeadLetterHandler = (item: WorkItem, reason: string) => Promise<void>;

export class HttpWorkQueue implements TransportProvider, AgentHttpEndpoint {
  private reportHandler?: ReportHandler;
  private deadLetterHandler?: DeadLetterHandler;
  private closed = false;
  readonly agentHttp: AgentHttpEndpoint = this;

  constructor(private readonly db: Knex, private readonly settings: HttpTransportSettings) {}

  async publishWork(item: WorkItem): Promise<void> {
    await this.db('http_work_items').insert({ id: item.id, site_id: item.siteId, item: JSON.stringify(item) }).onConflict('id').ignore();
  }

  async withdrawWork(siteId: string, ids: string[]): Promise<void> {
    await this.db('http_work_items').where({ site_id: siteId }).whereIn('id', ids).whereNull('acked_at').update({ dead_at: this.db.fn.now() });
  }

  async onReport(handler: ReportHandler): Promise<void> {
    this.reportHandler = handler;
  }

  async onDeadLetter(handler: DeadLetterHandler): Promise<void> {
    this.deadLetterHandler = handler;
  }

  health(): TransportHealth {
    return { connected: !this.closed, detail: 'agents long-poll the control plane over HTTP' };
  }

  async close(): Promise<void> {
    this.closed = true;
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

  private async lease(siteId: string): Promise<{ item: WorkItem; delivery: DeliveryInfo }[]> {
    const dead: WorkItem[] = [];
    const leased = await this.db.transaction(async (trx) => {
      const rows = await trx('http_work_items')
        .where({ site_id: siteId })
        .whereNull('acked_at')
        .whereNull('dead_at')
        .where('available_at', '<=', trx.fn.now())
        .orderBy('created_at')
        .orderBy('id')
        .limit(10)
        .forUpdate()
        .skipLocked();
      const out: { item: WorkItem; delivery: DeliveryInfo }[] = [];
      for (const row of rows) {
        const item = (typeof row.item === 'string' ? JSON.parse(row.item) : row.item) as WorkItem;
        if (row.deliveries >= this.settings.maxDeliver) {
          await trx('http_work_items').where({ id: row.id }).update({ dead_at: trx.fn.now() });
          dead.push(item);
          continue;
        }
        await trx('http_work_items')
          .where({ id: row.id })
          .update({ deliveries: row.deliveries + 1, available_at: new Date(Date.now() + this.settings.ackWaitMs) });
        out.push({ item, delivery: { attempt: row.deliveries + 1, maxAttempts: this.settings.maxDeliver } });
      }
      return out;
    });
    for (const item of dead) await this.deadLetterHandler?.(item, `not acknowledged after ${this.settings.maxDeliver} deliveries`);
    return leased;
  }

  async settleWork(siteId: string, ids: string[], outcome: 'ack' | 'nak'): Promise<void> {
    const rows = this.db('http_work_items').where({ site_id: siteId }).whereIn('id', ids).whereNull('acked_at');
    if (outcome === 'ack') await rows.update({ acked_at: this.db.fn.now() });
    else await rows.update({ available_at: this.db.fn.now() });
  }

  async acceptReports(reports: AgentReport[]): Promise<void> {
    if (!this.reportHandler) throw new Error('the control plane is not ready for reports yet');
    for (const report of reports) await this.reportHandler(report);
  }
}
