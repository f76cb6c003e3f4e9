/**
 * Revisions of each site's desired state. `changed(trx, siteId)` bumps the site's
 * revision inside the caller's transaction (the row lock orders concurrent changes, so
 * revisions follow commit order) and, once the transaction commits, wakes whoever waits
 * for that site: long polls in this process at once, and — on PostgreSQL — those of the
 * other control planes through NOTIFY. Nothing here decides what changed; every
 * mutation that affects what a site's agents serve calls `changed`.
 */
import { EventEmitter } from 'node:events';
import type { Knex } from 'knex';
import type { Logger } from 'pino';

/**
 * NOTIFY channels are server-wide: an installation on another schema of the same server
 * (tests isolate themselves so) has its own channel, or its sites' changes would wake
 * this one's publisher and long polls for sites it does not have.
 */
const channelFor = (schema?: string) =>
  schema ? `sprout_site_revision_${schema.replace(/[^a-z0-9_]/gi, '_')}`.slice(0, 63).toLowerCase() : 'sprout_site_revision';

export class SiteRevisions {
  private readonly waiters = new EventEmitter();
  private listener?: { release(): Promise<void> };
  private readonly followers = new Set<(siteId: string, revision: number) => void>();

  private readonly channel: string;

  constructor(private readonly deps: { db: Knex; kind: 'postgres' | 'pglite'; logger: Logger; schema?: string }) {
    this.waiters.setMaxListeners(0);
    this.channel = channelFor(deps.schema);
  }

  /** Bumps the site's revision in `trx`; returns the new revision. */
  async changed(trx: Knex.Transaction, siteId: string): Promise<number> {
    const [row] = await trx('sites').where({ id: siteId }).increment('desired_revision', 1).returning('desired_revision');
    const revision = Number(row?.desired_revision ?? 0);
    if (this.deps.kind === 'postgres') await trx.raw('select pg_notify(?, ?)', [this.channel, `${siteId} ${revision}`]);
    trx.executionPromise.then(
      () => this.announce(siteId, revision),
      () => undefined,
    );
    return revision;
  }

  async current(siteId: string, db: Knex | Knex.Transaction = this.deps.db): Promise<number> {
    const row = await db('sites').where({ id: siteId }).first('desired_revision');
    return Number(row?.desired_revision ?? 0);
  }

  /**
   * Resolves with the site's revision once it is above `after`, or with the current one
   * after `waitMs` (or when `signal` aborts). Looks at the database first and again
   * every few seconds, in case a wake-up was missed.
   */
  async waitBeyond(siteId: string, after: number, waitMs: number, signal?: AbortSignal): Promise<number> {
    const now = await this.current(siteId);
    if (now > after || waitMs <= 0 || signal?.aborted) return now;
    return new Promise<number>((resolve) => {
      let done = false;
      const finish = (revision: number) => {
        if (done) return;
        done = true;
        clearTimeout(timeout);
        clearInterval(recheck);
        this.waiters.off(siteId, wake);
        signal?.removeEventListener('abort', aborted);
        resolve(revision);
      };
      const wake = (revision: number) => {
        if (revision > after) finish(revision);
      };
      const aborted = () => void this.current(siteId).then(finish, () => finish(now));
      const timeout = setTimeout(aborted, waitMs);
      const recheck = setInterval(() => void this.current(siteId).then(wake, () => undefined), 5_000);
      this.waiters.on(siteId, wake);
      signal?.addEventListener('abort', aborted, { once: true });
    });
  }

  /** On PostgreSQL, hears other control planes' changes; in one process the announcement is direct. */
  async listen(): Promise<void> {
    if (this.deps.kind !== 'postgres' || this.listener) return;
    const client = (this.deps.db as unknown as { client: { acquireConnection(): Promise<any>; releaseConnection(c: unknown): Promise<void> } }).client;
    try {
      const connection = await client.acquireConnection();
      await connection.query(`LISTEN ${this.channel}`);
      connection.on('notification', (message: { channel: string; payload?: string }) => {
        if (message.channel !== this.channel || !message.payload) return;
        const [siteId, revision] = message.payload.split(' ');
        this.announce(siteId, Number(revision));
      });
      this.listener = {
        release: async () => {
          await connection.query(`UNLISTEN ${this.channel}`).catch(() => undefined);
          await client.releaseConnection(connection);
        },
      };
    } catch (err) {
      // Long polls still see other control planes' changes through their periodic look.
      this.deps.logger.warn({ err }, 'cannot LISTEN for site revisions; agents of other control planes catch up within 5 s');
    }
  }

  /** Calls `follower` after each announced change of any site (this process's and, on PostgreSQL, other control planes'). */
  onChange(follower: (siteId: string, revision: number) => void): () => void {
    this.followers.add(follower);
    return () => this.followers.delete(follower);
  }

  async close(): Promise<void> {
    await this.listener?.release();
    this.listener = undefined;
  }

  private announce(siteId: string, revision: number): void {
    this.waiters.emit(siteId, revision);
    for (const follower of this.followers) follower(siteId, revision);
  }
}
