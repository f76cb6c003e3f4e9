/**
 * Whether the store can write. A full disk shows only when a write needs new space, so
 * the first `disk_full` (SQLSTATE 53100, from PostgreSQL and from PGlite alike) is
 * remembered; while it is, readiness probes with a write that needs new space (a
 * temporary table of a few pages, dropped at commit), and the first probe that succeeds
 * clears it. Reads go on working meanwhile; only readiness and the failed writes say so.
 */
import type { Knex } from 'knex';

/** True when `err` (or what caused it) says the disk under the database (or ours) is full. */
export function diskFull(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code === '53100' || e.code === 'ENOSPC') return true;
  }
  return false;
}

export class WriteHealth {
  private failure?: { since: Date; detail: string };

  constructor(private readonly db: Knex) {
    // Every query of the store, the API's and the background's, inside transactions too.
    db.on('query-error', (err: unknown) => this.observe(err));
  }

  observe(err: unknown): void {
    if (!diskFull(err)) return;
    this.failure ??= { since: new Date(), detail: (err as Error).message };
  }

  /** null when writes work (probing again when the last one failed for a full disk); else why not. */
  async check(): Promise<string | null> {
    const failure = this.failure;
    if (!failure) return null;
    try {
      await this.db.transaction(async (trx) => {
        await trx.raw('create temporary table sprout_write_probe (filler text) on commit drop');
        await trx.raw("insert into sprout_write_probe select repeat('x', 1000) from generate_series(1, 64)");
      });
      this.failure = undefined;
      return null;
    } catch (err) {
      if (!diskFull(err)) throw err;
      return `the disk under the database is full since ${failure.since.toISOString()}: ${(err as Error).message}`;
    }
  }
}
