/**
 * The agent half of the HTTP transport: long-polls `GET /v1/agents/{id}/work`, runs the
 * items side by side (one machine's in order), settles them (ack on success, nak on
 * failure), and posts reports in batches.
 * Closing never waits on a task for longer than its lease: after that it is the next agent's.
 */
import type { AgentReport, AgentTransport, AgentTransportFactory, DeliveryInfo, TransportHealth, WorkItem } from '@sprout/kernel/sdk';

export const httpAgentTransport: AgentTransportFactory = async (options) =>
  new HttpAgentTransport(
    options.controlPlaneUrl,
    options.agentId,
    options.credential,
    Number(options.settings.waitSeconds ?? 25),
    Number(options.settings.ackWaitMs ?? 60_000),
    options.logger,
  );

type WorkHandler = (item: WorkItem, delivery: DeliveryInfo) => Promise<void>;

class HttpAgentTransport implements AgentTransport {
  private closing = false;
  private connected = false;
  private lastError = '';
  private handler?: WorkHandler;
  private loop?: Promise<void>;
  /** Ends the long-poll as soon as close() is called. */
  private readonly stopPolling = new AbortController();
  /** Ends everything else once the item in hand is settled or abandoned. */
  private readonly hangUp = new AbortController();
  private markClosing!: () => void;
  private readonly closingSignal = new Promise<void>((resolve) => (this.markClosing = resolve));

  constructor(
    private readonly baseUrl: string,
    private readonly agentId: string,
    private readonly credential: string,
    private readonly waitSeconds: number,
    private readonly ackWaitMs: number,
    private readonly logger: { warn(o: object, m?: string): void },
  ) {}

  private async call<T>(method: string, path: string, body: unknown, signal: AbortSignal): Promise<T> {
    const response = await fetch(new URL(`v1/agents/${this.agentId}/${path}`, this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`), {
      method,
      headers: { authorization: `Bearer ${this.credential}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal,
    });
    const text = await response.text();
    if (!response.ok) {
      let detail = text;
      try {
        detail = JSON.parse(text).detail ?? text;
      } catch {
        /* plain text */
      }
      throw new Error(`${method} ${path}: HTTP ${response.status}: ${detail}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  async consumeWork(handler: WorkHandler): Promise<void> {
    // Calling again replaces the handler; there is one poll loop per agent.
    this.handler = handler;
    this.loop ??= this.poll();
  }

  private async poll(): Promise<void> {
    while (!this.closing) {
      let items: { item: WorkItem; delivery: DeliveryInfo }[];
      try {
        // A control plane that never answers is given up on well after the wait it was asked for.
        const signal = AbortSignal.any([this.stopPolling.signal, AbortSignal.timeout((this.waitSeconds + 30) * 1000)]);
        ({ items } = await this.call<{ items: typeof items }>('GET', `work?wait=${this.waitSeconds}`, undefined, signal));
        this.connected = true;
      } catch (err) {
        if (this.closing) return;
        this.connected = false;
        this.lastError = (err as Error).message;
        await Promise.race([new Promise((resolve) => setTimeout(resolve, 1000)), this.closingSignal]);
        continue;
      }
      await this.workAll(items);
    }
  }

  /**
   * Runs one poll's items side by side, in the order they were leased: an item waits while
   * an earlier item of its machine runs (and the items after it wait with it, so each still
   * applies its desired state in lease order); an item naming no machine runs alone. Every
   * lease in hand is kept until its item is settled; the acknowledgements go in one call.
   */
  private async workAll(items: { item: WorkItem; delivery: DeliveryInfo }[]): Promise<void> {
    const unsettled = new Set(items.map(({ item }) => item.id));
    // Keep the leases while the items run, so no other agent of the site gets them meanwhile.
    const keepLeases = setInterval(
      () => {
        this.call('POST', 'work/settle', { ids: [...unsettled], outcome: 'working' }, this.hangUp.signal).catch((err) =>
          this.logger.warn({ err, items: [...unsettled] }, 'could not extend the leases of running work items'),
        );
      },
      Math.max(this.ackWaitMs / 3, 100),
    );
    keepLeases.unref();
    const done: string[] = [];
    const byMachine = new Map<string, Promise<void>>();
    const started: Promise<void>[] = [];
    try {
      for (const { item, delivery } of items) {
        if (this.closing) break;
        const machine = typeof item.payload.machine === 'string' ? item.payload.machine : null;
        if (machine === null) await Promise.all(started);
        else await byMachine.get(machine);
        const run = this.work(item, delivery).then((ok) => {
          unsettled.delete(item.id);
          if (ok) done.push(item.id);
        });
        started.push(run);
        if (machine === null) await run;
        else byMachine.set(machine, run);
      }
      await Promise.all(started);
    } finally {
      clearInterval(keepLeases);
    }
    // A lost ack costs a redelivery, which the work item id makes harmless.
    if (done.length > 0)
      await this.call('POST', 'work/settle', { ids: done, outcome: 'ack' }, this.hangUp.signal).catch((err) =>
        this.logger.warn({ err, items: done }, 'could not acknowledge finished work items; they will be delivered again'),
      );
  }

  /** Runs one item, even while closing (close() waits for it, up to a lease); false when it failed and was given back. */
  private async work(item: WorkItem, delivery: DeliveryInfo): Promise<boolean> {
    try {
      await this.handler!(item, delivery);
      return true;
    } catch (err) {
      this.logger.warn({ err, item: item.id }, 'work item failed; giving it back for redelivery');
      await this.call('POST', 'work/settle', { ids: [item.id], outcome: 'nak' }, this.hangUp.signal).catch((nakErr) =>
        this.logger.warn({ err: nakErr, item: item.id }, 'could not give a failed work item back; it is delivered again when its lease ends'),
      );
      return false;
    }
  }

  async publishReports(reports: AgentReport[]): Promise<void> {
    // Not tied to close(): the report journal sends the last reports of a task finishing during close.
    await this.call('POST', 'reports', { reports }, AbortSignal.timeout(30_000));
    this.connected = true;
  }

  health(): TransportHealth {
    return { connected: this.connected, detail: this.connected ? `long-polling ${this.baseUrl}` : this.lastError || 'not connected yet' };
  }

  /**
   * Stops polling at once and lets the item in hand finish for up to one lease; a handler
   * still running then is abandoned, and its lease running out hands the item to the next agent.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.markClosing();
    this.stopPolling.abort();
    let graceOver: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise((resolve) => (graceOver = setTimeout(resolve, this.ackWaitMs)))]);
    clearTimeout(graceOver);
    this.hangUp.abort();
  }
}
