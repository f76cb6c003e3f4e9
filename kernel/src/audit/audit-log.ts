/**
 * The audit trail: who asked for what, on which target, and how it ended. A record is
 * written in the same transaction as the change it describes (pass the transaction),
 * so a change without its record, or a record of a change that rolled back, cannot exist.
 */
import type { Knex } from 'knex';
import type { KernelHooks } from '../hooks/hooks.ts';
import { printable } from '../api/storable-text.ts';
import { cursorCodec } from '../api/cursor.ts';

const auditCursor = cursorCodec('audit', ['id']);

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
  targetId?: string;
  outcome?: AuditOutcome;
  since?: Date;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  limit?: number;
}

export class AuditLog {
  constructor(
    private readonly db: Knex,
    private readonly hooks: KernelHooks,
    /** Where a failing `auditRecorded` tap is reported: the record itself is already committed. */
    private readonly onHookError: (err: unknown) => void = () => {},
  ) {}

  /** Writes one record inside `trx` (or on its own); the hook runs after commit. */
  async record(entry: AuditEntry, trx: Knex | Knex.Transaction = this.db): Promise<number> {
    // Records carry what callers sent (ids from URLs, refused values): text PostgreSQL cannot hold is escaped, so the record is always written.
    const text = (v: string | null | undefined) => (typeof v === 'string' ? printable(v) : (v ?? null));
    const [row] = await trx('audit_records')
      .insert({
        actor: text(entry.actor),
        actor_role: text(entry.actorRole),
        action: text(entry.action),
        target_type: text(entry.targetType),
        target_id: text(entry.targetId),
        request_id: text(entry.requestId),
        source_address: text(entry.sourceAddress),
        outcome: entry.outcome,
        details: JSON.stringify(entry.details ?? {}, (_key, value) => (typeof value === 'string' ? printable(value) : value)),
      })
      .returning('id');
    const id = Number(typeof row === 'object' ? row.id : row);
    const event = { id, actor: entry.actor, action: entry.action, targetType: entry.targetType ?? null, targetId: entry.targetId ?? null, outcome: entry.outcome };
    const announce = () => this.hooks.auditRecorded.promise(event).catch(this.onHookError);
    if ('executionPromise' in trx) (trx as Knex.Transaction).executionPromise.then(announce, () => undefined);
    else void announce();
    return id;
  }

  /** Newest first; `nextCursor` is null on the last page. */
  async list(query: AuditQuery): Promise<{ items: AuditRecord[]; nextCursor: string | null }> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    const q = this.db('audit_records').orderBy('id', 'desc').limit(limit + 1);
    if (query.actor) q.where('actor', query.actor);
    if (query.action) q.where('action', query.action);
    if (query.targetType) q.where('target_type', query.targetType);
    if (query.targetId) q.where('target_id', query.targetId);
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
