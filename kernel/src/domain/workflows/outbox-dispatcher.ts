/**
 * The transactional outbox's dispatcher: site work is written to `outbox` in the same
 * transaction as the workflow step that needs it, and handed to the transport from
 * here (a transport that `leasesFromOutbox` gets nothing: its agents lease the rows
 * through outbox-queue.ts). A crash between the two loses nothing (the row is still undispatched) and
 * duplicates nothing the agent would run twice (the work item id is the row's).
 */
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { TransportProvider, WorkItem } from '../../capabilities/transport.ts';

export const workItemIdOf = (outboxId: number) => `wi-${outboxId}`;
export function outboxIdOf(workItemId: string): number | null {
  const match = /^wi-(\d+)$/.exec(workItemId);
  return match ? Number(match[1]) : null;
}

/** Dispatched rows are kept this long after their workflow ended (or, without one, after dispatch). */
/** The id of an outbox row from an insert's `returning('id')` (a row object or the bare id, by driver). */
export const outboxRowId = (row: unknown): number => Number(typeof row === 'object' && row !== null ? (row as { id: unknown }).id : row);

export const keepDispatchedHours = 24;
const pruneEveryMs = 10 * 60_000;

export class OutboxDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private pruning: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private again = false;

  constructor(private readonly deps: { db: Knex; transport: () => Promise<TransportProvider>; logger: Logger; intervalMs: number }) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.deps.intervalMs);
    this.timer.unref();
    this.pruning = setInterval(() => {
      this.pruneDispatched().catch((err) => this.deps.logger.warn({ err }, 'could not delete old outbox rows; will try again'));
    }, pruneEveryMs).unref();
    this.kick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.pruning) clearInterval(this.pruning);
    this.timer = undefined;
    await this.draining;
  }

  kick(): void {
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain()
      .then(() => undefined)
      .catch((err) => this.deps.logger.error({ err }, 'outbox dispatch failed'))
      .finally(() => {
        this.draining = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /**
   * Publishes every undispatched row, oldest first, a batch at a time; returns how many
   * went out. No transaction is held while publishing (the transport may need the database
   * itself); two replicas publishing the same row is harmless because publishing is
   * idempotent by work item id. A transport that takes a batch gets it in one call, and
   * the batch is marked dispatched in one statement.
   */
  async drain(): Promise<number> {
    const { db } = this.deps;
    let sent = 0;
    // Its agents lease the outbox rows themselves: there is nothing to hand over.
    if ((await this.deps.transport()).leasesFromOutbox) return 0;
    for (;;) {
      const rows = await db('outbox').whereNull('dispatched_at').orderBy('id').limit(50);
      if (rows.length === 0) return sent;
      const transport = await this.deps.transport();
      const items: WorkItem[] = rows.map((row) => ({
        id: workItemIdOf(Number(row.id)),
        siteId: row.site_id,
        kind: row.kind,
        workflowId: row.workflow_id,
        stepId: row.step_id,
        payload: row.payload,
      }));
      const published: typeof rows = [];
      try {
        if (transport.publishWorkMany) {
          await transport.publishWorkMany(items);
          published.push(...rows);
        } else {
          for (const [i, item] of items.entries()) {
            await transport.publishWork(item);
            published.push(rows[i]);
          }
        }
      } catch (err) {
        const failed = rows[published.length];
        await this.markDispatched(published);
        await db('outbox')
          .where({ id: failed.id })
          .update({ attempts: failed.attempts + 1, last_error: (err as Error).message });
        this.deps.logger.warn(
          { err, outbox: failed.id, ...(failed.workflow_id ? { workflow: failed.workflow_id } : {}) },
          'could not hand work to the transport; will retry',
        );
        return sent + published.length;
      }
      await this.markDispatched(published);
      sent += published.length;
    }
  }

  /**
   * Deletes dispatched rows whose workflow ended more than keepDispatchedHours ago (rows
   * without a workflow: dispatched that long ago). A report names its step through its
   * row, so a running workflow's rows stay however old; ids are never reused.
   * Returns how many went.
   */
  async pruneDispatched(): Promise<number> {
    const { db } = this.deps;
    const cutoff = db.raw(`now() - ? * interval '1 hour'`, [keepDispatchedHours]);
    const deleted = await db('outbox')
      .where('dispatched_at', '<', cutoff)
      .where((q) => q.whereNull('workflow_id').orWhereIn('workflow_id', db('workflows').select('id').where('finished_at', '<', cutoff)))
      .delete()
      .returning('id');
    return deleted.length;
  }

  private async markDispatched(rows: { id: number | string }[]): Promise<void> {
    if (rows.length === 0) return;
    const { db } = this.deps;
    await db('outbox')
      .whereIn(
        'id',
        rows.map((row) => row.id),
      )
      .whereNull('dispatched_at')
      .update({ dispatched_at: db.fn.now(), attempts: db.raw('attempts + 1'), last_error: null });
  }
}
