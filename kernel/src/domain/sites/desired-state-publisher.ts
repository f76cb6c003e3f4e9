/**
 * Pushes each site's desired-state document to a transport that carries it itself (a
 * broker's key-value store the site's agents watch, say). On every announced revision it
 * builds the site's document and publishes it, one publish in flight per site: a change
 * that arrives meanwhile is published once more afterwards, with the newest document.
 * A failure is logged once (until a publish of that site succeeds again) and healed by
 * the next change or by the periodic republish of every site, which also runs at start.
 * Transports without `publishDesiredState` serve the document by long poll instead.
 */
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { TransportProvider } from '../../capabilities/transport.ts';
import type { SiteDesiredStateDocument } from './desired-state-schema.ts';
import type { SiteRevisions } from './site-revisions.ts';

export interface DesiredStatePublisherDeps {
  db: Knex;
  revisions: SiteRevisions;
  transport: () => Promise<TransportProvider>;
  build: (siteId: string) => Promise<SiteDesiredStateDocument>;
  logger: Logger;
  /** Every site's document is published again this often (default 60 s). */
  republishMs?: number;
}

export class DesiredStatePublisher {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly failing = new Set<string>();
  /** The revision last published per site: a late notice of a revision already out publishes nothing. */
  private readonly published = new Map<string, number>();
  /** Sites the periodic sweep republishes even when unchanged (healing a lost document). */
  private readonly forced = new Set<string>();
  private unsubscribe?: () => void;
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private stopped = false;

  constructor(private readonly deps: DesiredStatePublisherDeps) {}

  /** Starts following revisions when the transport publishes documents; otherwise does nothing. */
  async start(): Promise<void> {
    let transport: TransportProvider;
    try {
      transport = await this.deps.transport();
    } catch {
      return;
    }
    if (!transport.publishDesiredState || this.stopped) return;
    this.unsubscribe = this.deps.revisions.onChange((siteId) => void this.publish(siteId));
    this.timer = setInterval(() => void this.sweep(), this.deps.republishMs ?? 60_000);
    this.timer.unref();
    void this.sweep();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearInterval(this.timer);
    await this.sweeping;
    await Promise.all([...this.running.values()]);
  }

  /**
   * Publishes the site's current document unless that revision is already out (`force`:
   * even then); while one is in flight, once more after it.
   */
  publish(siteId: string, force = false): Promise<void> {
    if (force) this.forced.add(siteId);
    const current = this.running.get(siteId);
    if (current) {
      this.again.add(siteId);
      return current;
    }
    const run = this.publishLoop(siteId).finally(() => this.running.delete(siteId));
    this.running.set(siteId, run);
    return run;
  }

  private async publishLoop(siteId: string): Promise<void> {
    do {
      this.again.delete(siteId);
      if (this.stopped) return;
      try {
        const transport = await this.deps.transport();
        const force = this.forced.delete(siteId);
        const document = await this.deps.build(siteId);
        if (!force && this.published.get(siteId) === document.revision) continue;
        await transport.publishDesiredState!(siteId, document);
        this.published.set(siteId, document.revision);
        if (this.failing.delete(siteId)) this.deps.logger.info({ siteId, revision: document.revision }, 'the desired state of the site is published again');
      } catch (err) {
        if (!this.failing.has(siteId))
          this.deps.logger.warn({ err, siteId }, 'cannot publish the desired state of the site; retrying on the next change and within a minute');
        this.failing.add(siteId);
        return;
      }
    } while (this.again.has(siteId));
  }

  /** Every site once, one at a time, so a large fleet or a slow broker is never flooded; skipped while the last sweep runs. */
  private sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        const sites: { id: string }[] = await this.deps.db('sites').select('id').orderBy('id');
        for (const { id } of sites) {
          if (this.stopped) return;
          await this.publish(id, true);
        }
      } catch (err) {
        this.deps.logger.warn({ err }, 'cannot list the sites to publish their desired state; trying again within a minute');
      }
    })().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }
}
