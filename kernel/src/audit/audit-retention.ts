/**
 * The audit retention setting (`audit.retentionDays`): once an hour, and once shortly
 * after start, records older than that are removed, and the prune itself is recorded
 * (actor `system`, action `audit.prune`, how many and the cutoff). Unset, nothing is
 * ever removed. Several control planes may prune at once: a delete is idempotent, and
 * only a prune that removed something leaves a record.
 */
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { AuditLog } from './audit-log.ts';

const DAY_MS = 86_400_000;

export class AuditRetention {
  private timer?: NodeJS.Timeout;
  private first?: NodeJS.Timeout;

  constructor(private readonly deps: { db: Knex; audit: AuditLog; logger: Logger; retentionDays?: number; now: () => number; intervalMs?: number }) {}

  start(): void {
    if (this.deps.retentionDays === undefined) return;
    const run = () => void this.pruneExpired().catch((err) => this.deps.logger.error({ err }, 'audit retention: prune failed; retrying at the next interval'));
    this.first = setTimeout(run, 10_000).unref();
    this.timer = setInterval(run, this.deps.intervalMs ?? 3_600_000).unref();
  }

  stop(): void {
    clearTimeout(this.first);
    clearInterval(this.timer);
  }

  /** Removes what the retention setting no longer keeps; returns how many and the cutoff (null when unset). */
  async pruneExpired(): Promise<{ removed: number; before: string } | null> {
    if (this.deps.retentionDays === undefined) return null;
    const before = new Date(this.deps.now() - this.deps.retentionDays * DAY_MS);
    const removed = await this.deps.db.transaction(async (trx) => {
      const n = await this.deps.audit.prune(before, trx);
      if (n > 0) {
        await this.deps.audit.record(
          {
            actor: 'system',
            action: 'audit.prune',
            targetType: 'audit',
            outcome: 'success',
            details: { removed: n, before: before.toISOString(), retentionDays: this.deps.retentionDays },
          },
          trx,
        );
      }
      return n;
    });
    if (removed > 0) this.deps.logger.info({ removed, before: before.toISOString() }, 'audit retention: pruned old records');
    return { removed, before: before.toISOString() };
  }
}
