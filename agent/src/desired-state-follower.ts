/**
 * Keeps the agent on the site's current desired state: long-polls the control plane for
 * a revision above the one held (`GET /v1/agents/{id}/desired-state?after=N`), validates
 * each document against the contract before anything is applied, and applies only newer
 * ones. A document that fails validation is refused: the agent keeps serving the last
 * valid one, reports the refusal once per revision, and says why in its heartbeat.
 * While the control plane is unreachable it serves what it holds and keeps asking.
 */
import { desiredStateProblems, type SiteDesiredStateDocument } from '@sprout/kernel';
import type { DesiredStateStore } from './desired-state-store.ts';

export interface FollowerDeps {
  controlPlaneUrl: string;
  agentId: string;
  credential: string;
  store: DesiredStateStore;
  report(kind: string, payload: Record<string, unknown>): void;
  /** Called when a document was applied or refused: the heartbeat tells the control plane soon. */
  onOutcome(): void;
  logger: { info(o: object, m?: string): void; warn(o: object, m?: string): void; error(o: object, m?: string): void };
  waitSeconds?: number;
}

export class DesiredStateFollower {
  /** Why the newest document was refused, while no newer valid one came. */
  error: string | null = null;
  private refusedRevision = -1;
  private stopped = false;
  private inFlight?: AbortController;
  private loop?: Promise<void>;
  private lastFailure = '';

  constructor(private readonly deps: FollowerDeps) {}

  /**
   * Asks once, without waiting for a change, for up to `timeoutMs`: called before the
   * site services start, so a restarted agent serves the current state, not its file's.
   */
  async catchUp(timeoutMs: number): Promise<void> {
    await this.fetchOnce(0, AbortSignal.timeout(timeoutMs)).catch((err) => {
      this.deps.logger.warn({ err: (err as Error).message, revision: this.deps.store.revision }, 'cannot reach the control plane for the desired state; serving the last one applied');
    });
  }

  /** The revision served; null before the first document. */
  revision(): number | null {
    return this.deps.store.revision;
  }

  start(): void {
    this.loop ??= this.follow();
  }

  /** Fetches now (a manual `site sync`); resolves with the revision served after it. */
  async refresh(): Promise<number | null> {
    this.inFlight?.abort();
    await this.fetchOnce(0, AbortSignal.timeout(30_000));
    return this.deps.store.revision;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.inFlight?.abort();
    await this.loop;
  }

  private async follow(): Promise<void> {
    while (!this.stopped) {
      const poll = new AbortController();
      this.inFlight = poll;
      const waitSeconds = this.deps.waitSeconds ?? 25;
      try {
        await this.fetchOnce(waitSeconds, AbortSignal.any([poll.signal, AbortSignal.timeout((waitSeconds + 30) * 1000)]));
        if (this.lastFailure) this.deps.logger.info({ revision: this.deps.store.revision }, 'the desired state reaches the agent again');
        this.lastFailure = '';
      } catch (err) {
        if (this.stopped) return;
        if (poll.signal.aborted) continue; // a refresh took over
        const message = (err as Error).message;
        if (message !== this.lastFailure) this.deps.logger.warn({ err: message, revision: this.deps.store.revision }, 'cannot long-poll the desired state; serving the last one applied and retrying');
        this.lastFailure = message;
        await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      }
    }
  }

  private async fetchOnce(waitSeconds: number, signal: AbortSignal): Promise<void> {
    const after = Math.max(this.deps.store.revision ?? -1, this.refusedRevision);
    const url = new URL(`v1/agents/${this.deps.agentId}/desired-state?after=${after}&wait=${waitSeconds}`, `${this.deps.controlPlaneUrl.replace(/\/$/, '')}/`);
    const response = await fetch(url, { headers: { authorization: `Bearer ${this.deps.credential}` }, signal });
    if (response.status === 204) return;
    const text = await response.text();
    if (!response.ok) throw new Error(`GET desired-state: HTTP ${response.status}: ${text.slice(0, 300)}`);
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (err) {
      throw new Error(`GET desired-state: not JSON: ${(err as Error).message}`);
    }
    this.take(document);
  }

  private take(document: unknown): void {
    const problems = desiredStateProblems(document);
    const revision = typeof (document as { revision?: unknown })?.revision === 'number' ? (document as { revision: number }).revision : null;
    if (problems.length > 0) {
      if (revision !== null && revision <= this.refusedRevision) return;
      this.refusedRevision = revision ?? this.refusedRevision + 1;
      this.error = `revision ${revision ?? '?'} refused: ${problems.join('; ')}`;
      this.deps.logger.error({ revision, problems, serving: this.deps.store.revision }, 'refused an invalid desired state; serving the last valid one');
      this.deps.report('desired-state.refused', { revision, problems, serving: this.deps.store.revision });
      this.deps.onOutcome();
      return;
    }
    const previous = this.deps.store.revision;
    if (this.deps.store.apply(document as SiteDesiredStateDocument)) {
      this.deps.logger.info({ revision: (document as SiteDesiredStateDocument).revision, previous }, 'applied desired state');
      this.error = null;
      this.deps.onOutcome();
    }
  }
}
