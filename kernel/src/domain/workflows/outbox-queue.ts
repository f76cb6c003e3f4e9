/**
 * The outbox as a work queue, for transports whose agents lease work from the control
 * plane instead of a broker: the row the workflow step wrote in its own
 * transaction is the queued item, leased, settled and given up in place. Plugins reach it
 * as `ctx.workQueue`; they never touch the `outbox` table themselves.
 *
 * - Leases go oldest first (outbox id order) per site, `FOR UPDATE SKIP LOCKED`, in one
 *   statement; a lease not settled within `ackWaitMs` ends and the item is leased again.
 * - An item leased `maxDeliver` times whose last lease is over is exhausted: `takeExhausted`
 *   hands it to the dead-letter handler (hidden from other instances meanwhile), and
 *   `markDead` settles it once the handler is done.
 * - Long polls wait on `waitForWork`: a row written for the site (the table's trigger
 *   NOTIFYs `sprout_outbox`; PGlite delivers it in process) or given back wakes them.
 *
 * Rows another transport already had published (`dispatched_at` set, never leased) are
 * not leased: switching transports never hands out old work again.
 */
import { EventEmitter } from 'node:events';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Client as PgClient } from 'pg';
import type { DeliveryInfo, WorkItem } from '../../capabilities/transport.ts';
import { outboxIdOf, workItemIdOf } from './outbox-dispatcher.ts';

export interface LeaseOptions {
  /** How long a lease lasts before the item may be leased again. */
  ackWaitMs: number;
  /** Leases an item gets at most; then it is exhausted (see `takeExhausted`). */
  maxDeliver: number;
  /** Items one lease takes at most. */
  limit: number;
}

export interface LeasedWork {
  item: WorkItem;
  delivery: DeliveryInfo;
}

/** What plugins get as `ctx.workQueue`. */
export interface WorkQueue {
  /** Leases up to `limit` of the site's items, oldest first. */
  lease(siteId: string, options: LeaseOptions): Promise<LeasedWork[]>;
  /**
   * `ack`: done, never again; `nak`: lease again now; `working`: extend the lease by
   * `ackWaitMs`. Items of other sites, and items already settled, are left alone.
   */
  settle(siteId: string, ids: string[], outcome: 'ack' | 'nak' | 'working', ackWaitMs: number): Promise<void>;
  /** Takes back items not acknowledged (a cancelled workflow's): never leased again. */
  withdraw(siteId: string, ids: string[]): Promise<void>;
  /**
   * Up to `limit` exhausted items (of every site), each with its deliveries, hidden from
   * other callers for `claimMs`: call `markDead` once they are handled; those not marked
   * by then come back.
   */
  takeExhausted(maxDeliver: number, claimMs: number, limit: number): Promise<{ item: WorkItem; deliveries: number }[]>;
  /** Settles exhausted items as given up, with the reason. */
  markDead(ids: string[], reason: string): Promise<void>;
  /**
   * Resolves when work for the site may have arrived (a row written or given back, in any
   * control plane), when the site's earliest lease ends, after `waitMs`, or when `signal` aborts.
   */
  waitForWork(siteId: string, waitMs: number, signal?: AbortSignal): Promise<void>;
}

const channel = 'sprout_outbox';

interface OutboxRow {
  id: number | string;
  site_id: string;
  kind: string;
  workflow_id: string | null;
  step_id: string | null;
  payload: unknown;
  deliveries: number;
}

const itemOf = (row: OutboxRow): WorkItem => ({
  id: workItemIdOf(Number(row.id)),
  siteId: row.site_id,
  kind: row.kind,
  workflowId: row.workflow_id ?? null,
  stepId: row.step_id ?? null,
  payload: (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as Record<string, unknown>,
});

const later = (db: Knex, ms: number) => db.raw(`now() + ? * interval '1 millisecond'`, [ms]);

export class OutboxQueue implements WorkQueue {
  private readonly waiters = new EventEmitter();
  private listener?: { release(): Promise<void> };
  private listening?: Promise<void>;
  private readonly schema: string;

  constructor(private readonly deps: { db: Knex; kind: 'postgres' | 'pglite'; logger: Logger; schema?: string }) {
    this.waiters.setMaxListeners(0);
    this.schema = deps.schema ?? 'public';
  }

  /** Rows of the site this transport may lease: not settled, and not published by another transport. */
  private pending(db: Knex, siteId?: string): Knex.QueryBuilder {
    const query = db('outbox')
      .whereNull('acked_at')
      .whereNull('dead_at')
      .where((q) => q.whereNull('dispatched_at').orWhere('deliveries', '>', 0));
    return siteId ? query.where({ site_id: siteId }) : query;
  }

  async lease(siteId: string, { ackWaitMs, maxDeliver, limit }: LeaseOptions): Promise<LeasedWork[]> {
    const { db } = this.deps;
    const leasable = (q: Knex.QueryBuilder) =>
      q.where('deliveries', '<', maxDeliver).where((w) => w.whereNull('available_at').orWhere('available_at', '<=', db.fn.now()));
    const next = leasable(this.pending(db, siteId)).orderBy('id').limit(limit).forUpdate().skipLocked().select('id');
    // The conditions again on the rows updated: a row another instance leased between this
    // statement's snapshot and its lock is checked in its new version, and left alone.
    const rows: OutboxRow[] = await leasable(this.pending(db, siteId).whereIn('id', next))
      .update({ deliveries: db.raw('deliveries + 1'), available_at: later(db, ackWaitMs), dispatched_at: db.raw('coalesce(dispatched_at, now())') })
      .returning(['id', 'site_id', 'kind', 'workflow_id', 'step_id', 'payload', 'deliveries']);
    // RETURNING keeps no order: leases go out oldest first.
    return rows
      .sort((a, b) => Number(a.id) - Number(b.id))
      .map((row) => ({ item: itemOf(row), delivery: { attempt: Number(row.deliveries), maxAttempts: maxDeliver } }));
  }

  async settle(siteId: string, ids: string[], outcome: 'ack' | 'nak' | 'working', ackWaitMs: number): Promise<void> {
    const outboxIds = idsOf(ids);
    if (outboxIds.length === 0) return;
    const { db } = this.deps;
    const rows = db('outbox').where({ site_id: siteId }).whereIn('id', outboxIds).whereNull('acked_at').whereNull('dead_at').where('deliveries', '>', 0);
    if (outcome === 'ack') await rows.update({ acked_at: db.fn.now() });
    else if (outcome === 'working') await rows.update({ available_at: later(db, ackWaitMs) });
    else {
      await rows.update({ available_at: db.fn.now() });
      // Another agent of the site may be waiting for it.
      await this.announce(siteId);
    }
  }

  async withdraw(siteId: string, ids: string[]): Promise<void> {
    const outboxIds = idsOf(ids);
    if (outboxIds.length === 0) return;
    const { db } = this.deps;
    await db('outbox')
      .where({ site_id: siteId })
      .whereIn('id', outboxIds)
      .whereNull('acked_at')
      .whereNull('dead_at')
      .update({ dead_at: db.fn.now(), dead_reason: 'withdrawn' });
  }

  async takeExhausted(maxDeliver: number, claimMs: number, limit: number): Promise<{ item: WorkItem; deliveries: number }[]> {
    const { db } = this.deps;
    const taken = (q: Knex.QueryBuilder) => q.where('deliveries', '>=', maxDeliver).where('available_at', '<=', db.fn.now());
    const exhausted = taken(this.pending(db)).orderBy('id').limit(limit).forUpdate().skipLocked().select('id');
    const rows: OutboxRow[] = await taken(this.pending(db).whereIn('id', exhausted))
      .update({ available_at: later(db, claimMs) })
      .returning(['id', 'site_id', 'kind', 'workflow_id', 'step_id', 'payload', 'deliveries']);
    return rows.sort((a, b) => Number(a.id) - Number(b.id)).map((row) => ({ item: itemOf(row), deliveries: Number(row.deliveries) }));
  }

  async markDead(ids: string[], reason: string): Promise<void> {
    const outboxIds = idsOf(ids);
    if (outboxIds.length === 0) return;
    const { db } = this.deps;
    await db('outbox').whereIn('id', outboxIds).whereNull('acked_at').whereNull('dead_at').update({ dead_at: db.fn.now(), dead_reason: reason });
  }

  async waitForWork(siteId: string, waitMs: number, signal?: AbortSignal): Promise<void> {
    if (waitMs <= 0 || signal?.aborted) return;
    // Listening starts with the first long poll: a control plane whose transport has a broker never holds the connection.
    await (this.listening ??= this.listen());
    // The site's earliest lease to end (or item given back to be taken again) wakes the poll too.
    const { db } = this.deps;
    const next = await this.pending(db, siteId).where('deliveries', '>', 0).where('available_at', '>', db.fn.now()).min({ at: 'available_at' }).first();
    const leaseEndsInMs = next?.at ? new Date(next.at).getTime() - Date.now() + 10 : Infinity;
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timeout);
        this.waiters.off(siteId, finish);
        signal?.removeEventListener('abort', finish);
        resolve();
      };
      const timeout = setTimeout(finish, Math.max(0, Math.min(waitMs, leaseEndsInMs)));
      this.waiters.on(siteId, finish);
      signal?.addEventListener('abort', finish, { once: true });
    });
  }

  /** Hears the outbox trigger's notifications: from every control plane on PostgreSQL, in process on PGlite. */
  async listen(): Promise<void> {
    if (this.listener) return;
    const hear = (payload: string | undefined) => {
      if (!payload) return;
      const [schema, siteId] = payload.split(' ');
      if (schema === this.schema && siteId) this.waiters.emit(siteId);
    };
    try {
      if (this.deps.kind === 'pglite') {
        const pglite = (
          this.deps.db.client as {
            config: { connection: { pglite: { listen(channel: string, cb: (payload: string) => void): Promise<() => Promise<void>> } } };
          }
        ).config.connection.pglite;
        const unlisten = await pglite.listen(channel, hear);
        this.listener = { release: () => unlisten() };
        return;
      }
      const client = (this.deps.db as unknown as { client: { acquireConnection(): Promise<PgClient>; releaseConnection(c: unknown): Promise<void> } }).client;
      const connection = await client.acquireConnection();
      await connection.query(`LISTEN ${channel}`);
      const onNotification = (message: { channel: string; payload?: string }) => {
        if (message.channel === channel) hear(message.payload);
      };
      connection.on('notification', onNotification);
      // A lost connection (the database restarted) is replaced by the next long poll; the safety look covers the gap.
      const lost = () => {
        if (this.listener !== listener) return;
        this.listener = undefined;
        this.listening = undefined;
        connection.off('notification', onNotification);
        void client.releaseConnection(connection).catch(() => undefined);
      };
      connection.once('error', lost);
      connection.once('end', lost);
      const listener = (this.listener = {
        release: async () => {
          connection.off('notification', onNotification);
          await connection.query(`UNLISTEN ${channel}`).catch(() => undefined);
          await client.releaseConnection(connection);
        },
      });
    } catch (err) {
      // Long polls still look every few seconds (the transport's safety poll); listening is tried again in a while.
      this.deps.logger.warn({ err }, 'cannot LISTEN for new outbox rows; agents long-polling over HTTP see new work within their safety poll');
      setTimeout(() => (this.listening = undefined), 30_000).unref();
    }
  }

  async close(): Promise<void> {
    await this.listening;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.release().catch(() => undefined);
  }

  /** Wakes the site's long polls here and, on PostgreSQL, in the other control planes. */
  private async announce(siteId: string): Promise<void> {
    if (this.deps.kind === 'postgres') await this.deps.db.raw('select pg_notify(?, ?)', [channel, `${this.schema} ${siteId}`]);
    else this.waiters.emit(siteId);
  }
}

function idsOf(workItemIds: string[]): number[] {
  return workItemIds.map(outboxIdOf).filter((id): id is number => id !== null);
}
