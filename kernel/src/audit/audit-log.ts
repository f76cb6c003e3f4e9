/**
 * The audit trail: who asked for what, on which target, and how it ended. A record is
 * written in the same transaction as the change it describes (pass the transaction),
 * so a change without its record, or a record of a change that rolled back, cannot exist.
 */
import type { Knex } from 'knex';
import { afterCommit, type KernelHooks } from '../hooks/hooks.ts';
import { printable } from '../api/storable-text.ts';
import { cursorCodec } from '../api/cursor.ts';

const auditCursor = cursorCodec('audit', ['id']);

/** An entry as its row is stored. Records carry what callers sent (ids from URLs, refused values): text PostgreSQL cannot hold is escaped, so the record is always written. */
function storedRecord(entry: AuditEntry) {
  const text = (v: string | null | undefined) => (typeof v === 'string' ? printable(v) : (v ?? null));
  return {
    actor: text(entry.actor),
    actor_role: text(entry.actorRole),
    action: text(entry.action),
    target_type: text(entry.targetType),
    target_id: text(entry.targetId),
    request_id: text(entry.requestId),
    source_address: text(entry.sourceAddress),
    outcome: entry.outcome,
    details: JSON.stringify(entry.details ?? {}, (_key, value) => (typeof value === 'string' ? printable(value) : value)),
  };
}

export type AuditOutcome = 'success' | 'denied' | 'failed';

export interface AuditEntry {
  actor: string;
  actorRole?: string | null;
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  requestId?: string | null;
  sourceAddress?: string | null;
  outcome: AuditOutcome;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends Required<Omit<AuditEntry, 'details'>> {
  id: number;
  at: string;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  targetType?: string;
  /** One id, or several that name the same target (a machine's id and hostname). */
  targetId?: string | string[];
  outcome?: AuditOutcome;
  since?: Date;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  limit?: number;
}

/**
 * What makes denials "the same" for `recordRepeated`, and what each repeat adds to the
 * one record they share.
 */
export interface Repeat {
  /** Same key within the window → same record (e.g. source, actor, action, reason). */
  key: string;
  /** A value each repeat may add to a bounded list in the record's details (a MAC, a path). */
  sample?: { field: string; value: string };
}

/** Distinct values kept per sampled field of one repeated record. */
export const REPEAT_SAMPLE_SIZE = 50;
/** Repeat keys remembered at once, the stalest forgotten first (memory stays bounded). */
const REPEAT_KEYS = 10_000;

interface Repeating {
  id: number | null;
  firstSeen: number;
  /** Repeats counted in memory, not yet added to the record. */
  pending: number;
  lastSeen: number;
  lastRequestId: string | null;
  sampleField: string | null;
  sample: string[];
  /** Writes to this record, one after another: repeats that arrive during a write share the next one. */
  chain: Promise<unknown>;
}

export class AuditLog {
  private readonly repeats = new Map<string, Repeating>();

  constructor(
    private readonly db: Knex,
    private readonly hooks: KernelHooks,
    /** Where a failing `auditRecorded` tap is reported: the record itself is already committed. */
    private readonly onHookError: (err: unknown) => void = () => {},
    private readonly options: { repeatWindowMs: number; now: () => number } = { repeatWindowMs: 60_000, now: Date.now },
  ) {}

  /**
   * Records a denial that may repeat (a flood of unauthenticated requests, an agent
   * reporting thousands of unknown MACs): the first of a key is written at once, as
   * `record` would, with `details.count: 1`, `firstSeen` and `lastSeen`; each identical
   * one within the window of the first adds to that record's `count` (and `lastSeen`,
   * `lastRequestId`, the bounded sample) before this returns. After the window the next
   * one starts a new record. So every denial is in the trail, and a flood costs one row
   * per key and window. Outside a transaction, repeats that arrive while the record is
   * being written are added together in the next write.
   */
  async recordRepeated(entry: AuditEntry, repeat: Repeat, trx?: Knex | Knex.Transaction): Promise<void> {
    const now = this.options.now();
    let r = this.repeats.get(repeat.key);
    if (r && now - r.firstSeen >= this.options.repeatWindowMs) r = undefined;
    if (r) {
      this.repeats.delete(repeat.key);
      this.repeats.set(repeat.key, r);
      r.pending++;
      r.lastSeen = Math.max(r.lastSeen, now);
      r.lastRequestId = entry.requestId ?? r.lastRequestId;
      if (repeat.sample && r.sample.length < REPEAT_SAMPLE_SIZE && !r.sample.includes(repeat.sample.value)) r.sample.push(repeat.sample.value);
      if (trx) return this.flushRepeat(r, entry, trx);
      const turn = r.chain.then(() => this.flushRepeat(r!, entry, this.db));
      r.chain = turn.catch(() => undefined);
      return turn;
    }
    const fresh: Repeating = {
      id: null,
      firstSeen: now,
      pending: 0,
      lastSeen: now,
      lastRequestId: entry.requestId ?? null,
      sampleField: repeat.sample?.field ?? null,
      sample: repeat.sample ? [repeat.sample.value] : [],
      chain: Promise.resolve(),
    };
    this.repeats.set(repeat.key, fresh);
    if (this.repeats.size > REPEAT_KEYS) this.repeats.delete(this.repeats.keys().next().value!);
    const insert = this.record({ ...entry, details: this.repeatDetails(entry, fresh, 1) }, trx).then((id) => {
      fresh.id = id;
    });
    fresh.chain = insert.catch(() => this.repeats.get(repeat.key) === fresh && this.repeats.delete(repeat.key));
    await insert;
  }

  private repeatDetails(entry: AuditEntry, r: Repeating, count: number): Record<string, unknown> {
    return {
      ...(entry.details ?? {}),
      count,
      firstSeen: new Date(r.firstSeen).toISOString(),
      lastSeen: new Date(r.lastSeen).toISOString(),
      ...(r.sampleField ? { [r.sampleField]: r.sample } : {}),
    };
  }

  /** Adds the pending repeats to the record; a record gone (pruned, or its transaction rolled back) is written anew. */
  private async flushRepeat(r: Repeating, entry: AuditEntry, db: Knex | Knex.Transaction): Promise<void> {
    const n = r.pending;
    if (n === 0) return;
    r.pending = 0;
    const extra: Record<string, unknown> = {
      lastSeen: new Date(r.lastSeen).toISOString(),
      lastRequestId: r.lastRequestId,
      ...(r.sampleField ? { [r.sampleField]: r.sample } : {}),
    };
    const updated =
      r.id === null
        ? 0
        : await db('audit_records')
            .where({ id: r.id })
            .update({
              details: db.raw(`details || jsonb_build_object('count', coalesce((details->>'count')::bigint, 1) + ?::bigint) || ?::jsonb`, [
                n,
                JSON.stringify(extra, (_k, v) => (typeof v === 'string' ? printable(v) : v)),
              ]),
            });
    if (updated === 0) {
      r.firstSeen = r.lastSeen;
      r.id = await this.record({ ...entry, details: this.repeatDetails(entry, r, n) }, db);
    }
  }

  /** Writes one record inside `trx` (or on its own); the hook runs after commit. */
  async record(entry: AuditEntry, trx: Knex | Knex.Transaction = this.db): Promise<number> {
    const [row] = await trx('audit_records').insert(storedRecord(entry)).returning('id');
    const id = Number(typeof row === 'object' ? row.id : row);
    this.recorded(id, entry, trx);
    return id;
  }

  /**
   * The record as part of a statement that writes the change too (a data-modifying CTE:
   * one round trip, atomic without a transaction): `insert into audit_records … select …
   * from <from> returning id`, written once per row of `from` (one, or none when the
   * change wrote nothing). Call `recorded` with the id once the statement ran.
   */
  insertFrom(entry: AuditEntry, from: string): { sql: string; bindings: unknown[] } {
    const row = storedRecord(entry);
    const columns = Object.keys(row) as (keyof typeof row)[];
    return {
      sql: `insert into audit_records (${columns.join(', ')}) select ${columns.map((c) => (c === 'details' ? '?::jsonb' : '?')).join(', ')} from ${from} returning id`,
      bindings: columns.map((c) => row[c]),
    };
  }

  /** Announces a written record (the auditRecorded hook), after `trx` commits. */
  recorded(id: number, entry: AuditEntry, trx: Knex | Knex.Transaction = this.db): void {
    const event = {
      id,
      actor: entry.actor,
      action: entry.action,
      targetType: entry.targetType ?? null,
      targetId: entry.targetId ?? null,
      outcome: entry.outcome,
    };
    afterCommit(trx, () => this.hooks.auditRecorded.promise(event), this.onHookError);
  }

  /**
   * Deletes the records written before `before`, in `trx` (the caller writes the record
   * of the prune itself in the same transaction). Repeated records are kept while they
   * still count: one is removed when its first occurrence is before the cutoff.
   */
  async prune(before: Date, trx: Knex | Knex.Transaction = this.db): Promise<number> {
    // Counted in SQL: the drivers disagree on what a delete returns.
    const result = await trx.raw('with removed as (delete from audit_records where at < ? returning 1) select count(*)::int as n from removed', [before]);
    return Number((result.rows ?? result)[0].n);
  }

  /** Newest first; `nextCursor` is null on the last page. */
  async list(query: AuditQuery): Promise<{ items: AuditRecord[]; nextCursor: string | null }> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    const q = this.db('audit_records')
      .orderBy('id', 'desc')
      .limit(limit + 1);
    if (query.actor) q.where('actor', query.actor);
    if (query.action) q.where('action', query.action);
    if (query.targetType) q.where('target_type', query.targetType);
    if (typeof query.targetId === 'string') q.where('target_id', query.targetId);
    else if (query.targetId?.length) q.whereIn('target_id', query.targetId);
    if (query.outcome) q.where('outcome', query.outcome);
    if (query.since) q.where('at', '>=', query.since);
    if (query.cursor) q.where('id', '<', auditCursor.decode(query.cursor)[0]);
    const rows = await q;
    const page = rows.slice(0, limit);
    return {
      items: page.map(toRecord),
      nextCursor: rows.length > limit ? auditCursor.encode(Number(page[page.length - 1].id)) : null,
    };
  }
}

function toRecord(row: any): AuditRecord {
  return {
    id: Number(row.id),
    at: new Date(row.at).toISOString(),
    actor: row.actor,
    actorRole: row.actor_role,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    requestId: row.request_id,
    sourceAddress: row.source_address,
    outcome: row.outcome,
    details: typeof row.details === 'string' ? JSON.parse(row.details) : row.details,
  };
}
