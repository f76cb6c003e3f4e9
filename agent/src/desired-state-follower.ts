/**
 * Keeps the agent on the site's current desired state. When the transport carries the
 * document itself (`watchDesiredState`: NATS, through a JetStream key-value watch), it
 * takes documents from there, and asks the control plane over HTTP only when the watch
 * has been silent for longer than the control plane's periodic republish (a broken
 * watch). Otherwise it long-polls the control plane for a revision above the one held
 * (`GET /v1/agents/{id}/desired-state?after=N`). Either way it validates
 * each document against the contract before anything is applied, and applies only newer
 * ones. A document that fails validation is refused: the agent keeps serving the last
 * valid one, reports the refusal once per revision, and says why in its heartbeat.
 * While the control plane is unreachable it serves what it holds and keeps asking.
 */
import { desiredStateProblems, type SiteDesiredStateDocument } from '@sprout/kernel/sdk';
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
  /** With a watch: ask over HTTP once the watch has delivered nothing for this long (default 90 s; the control plane republishes every 60 s). */
  watchSilenceMs?: number;
}

/** The channel a document came through, as logged when it is applied. */
export type DesiredStateChannel = 'http' | 'jetstream';

export type DesiredStateWatch = (onDocument: (document: unknown) => void) => Promise<void>;

export class DesiredStateFollower {
  /** Why the newest document was refused, while no newer valid one came. */
  error: string | null = null;
  private refusedRevision = -1;
  private stopped = false;
  private inFlight?: AbortController;
  private loop?: Promise<void>;
  private lastFailure = '';
  private watchSilent = false;
  /** The fetch `reach` waits on, shared by every step waiting for a newer revision. */
  private catchingUp?: Promise<void>;

  constructor(private readonly deps: FollowerDeps) {}

  /**
   * Asks once, without waiting for a change, for up to `timeoutMs`: called before the
   * site services start, so a restarted agent serves the current state, not its file's.
   */
  async catchUp(timeoutMs: number): Promise<void> {
    await this.fetchOnce(0, AbortSignal.timeout(timeoutMs)).catch((err) => {
      this.deps.logger.warn(
        { err: (err as Error).message, revision: this.deps.store.revision },
        'cannot reach the control plane for the desired state; serving the last one applied',
      );
    });
  }

  /** The revision served; null before the first document. */
  revision(): number | null {
    return this.deps.store.revision;
  }

  /** Follows the site's changes: through `watch` when the transport has one, else by HTTP long poll. */
  start(watch?: DesiredStateWatch): void {
    this.loop ??= watch ? this.watchWithFallback(watch) : this.follow();
  }

  /** Fetches now (a manual `site sync`); resolves with the revision served after it. */
  async refresh(): Promise<number | null> {
    this.inFlight?.abort();
    await this.fetchOnce(0, AbortSignal.timeout(30_000));
    // On disk before the manual sync counts as done (the store otherwise writes at most once a second).
    this.deps.store.flush();
    return this.deps.store.revision;
  }

  /**
   * Resolves once the agent serves `revision` or a later one, fetching at once when it is
   * behind (the long poll or watch may not have brought it yet); throws after `timeoutMs`
   * naming both revisions and, when there is one, why the newer document was refused.
   */
  async reach(revision: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((this.deps.store.revision ?? -1) >= revision) return;
      if (this.stopped || Date.now() >= deadline)
        throw new Error(
          `this agent serves desired-state revision ${this.deps.store.revision ?? 'none'} and the step needs revision ${revision} or later${this.error ? ` (${this.error})` : ''}`,
        );
      // One fetch for every step waiting meanwhile: it brings the newest document, and a poll's
      // batch of 50 items each fetching the whole site at once was 50 documents to build and apply.
      this.catchingUp ??= this.fetchOnce(0, AbortSignal.timeout(Math.max(1000, Math.min(10_000, deadline - Date.now())))).finally(
        () => (this.catchingUp = undefined),
      );
      try {
        await this.catchingUp;
      } catch {
        // The long poll goes on retrying; look again shortly.
      }
      if ((this.deps.store.revision ?? -1) < revision) await new Promise((resolve) => setTimeout(resolve, 250).unref());
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.inFlight?.abort();
    await this.loop;
  }

  private async watchWithFallback(watch: DesiredStateWatch): Promise<void> {
    let lastDelivery = Date.now();
    try {
      await watch((document) => {
        lastDelivery = Date.now();
        if (this.watchSilent) this.deps.logger.info({ revision: this.deps.store.revision }, 'the desired-state watch delivers again');
        this.watchSilent = false;
        if (!this.stopped) this.take(document, 'jetstream');
      });
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'cannot watch the desired state through the transport; asking over HTTP');
      lastDelivery = 0;
    }
    const silenceMs = this.deps.watchSilenceMs ?? 90_000;
    while (!this.stopped) {
      const round = new AbortController();
      this.inFlight = round;
      if (Date.now() - lastDelivery < silenceMs) {
        // The watch works: look again once it may have gone silent.
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, Math.max(50, Math.min(silenceMs - (Date.now() - lastDelivery), 30_000)));
          timer.unref();
          round.signal.addEventListener('abort', () => (clearTimeout(timer), resolve(undefined)), { once: true });
        });
        continue;
      }
      // Silent for longer than the control plane's periodic republish: the watch is broken; long-poll over HTTP meanwhile.
      if (!this.watchSilent)
        this.deps.logger.warn(
          { silentMs: Date.now() - lastDelivery, revision: this.deps.store.revision },
          'the desired-state watch is silent; following the control plane over HTTP until it delivers again',
        );
      this.watchSilent = true;
      const waitSeconds = Math.min(this.deps.waitSeconds ?? 25, Math.max(1, Math.ceil(silenceMs / 1000)));
      try {
        await this.fetchOnce(waitSeconds, AbortSignal.any([round.signal, AbortSignal.timeout((waitSeconds + 30) * 1000)]));
        if (this.lastFailure) this.deps.logger.info({ revision: this.deps.store.revision }, 'the desired state reaches the agent again');
        this.lastFailure = '';
      } catch (err) {
        if (this.stopped) return;
        if (round.signal.aborted) continue;
        const message = (err as Error).message;
        if (message !== this.lastFailure)
          this.deps.logger.warn(
            { err: message, revision: this.deps.store.revision },
            'the desired-state watch is silent and the control plane unreachable; serving the last one applied',
          );
        this.lastFailure = message;
        await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      }
    }
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
        if (message !== this.lastFailure)
          this.deps.logger.warn(
            { err: message, revision: this.deps.store.revision },
            'cannot long-poll the desired state; serving the last one applied and retrying',
          );
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
    this.take(document, 'http');
  }

  private take(document: unknown, via: DesiredStateChannel): void {
    const problems = desiredStateProblems(document);
    const revision = typeof (document as { revision?: unknown })?.revision === 'number' ? (document as { revision: number }).revision : null;
    if (problems.length > 0) {
      if (revision !== null && revision <= this.refusedRevision) return;
      this.refusedRevision = revision ?? this.refusedRevision + 1;
      this.error = `revision ${revision ?? '?'} refused: ${problems.join('; ')}`;
      this.deps.logger.error({ revision, problems, serving: this.deps.store.revision, via }, 'refused an invalid desired state; serving the last valid one');
      this.deps.report('desired-state.refused', { revision, problems, serving: this.deps.store.revision });
      this.deps.onOutcome();
      return;
    }
    const previous = this.deps.store.revision;
    if (this.deps.store.apply(document as SiteDesiredStateDocument)) {
      this.deps.logger.info({ revision: (document as SiteDesiredStateDocument).revision, previous, via }, 'applied desired state');
      this.error = null;
      this.deps.onOutcome();
    }
  }
}
