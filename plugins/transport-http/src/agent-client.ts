/**
 * The agent half of the HTTP transport: long-polls `GET /v1/agents/{id}/work`, runs each
 * item, settles it (ack on success, nak on failure), and posts reports in batches.
 * Closing never waits on a task for longer than its lease: after that it is the next agent's.
 */
import type { AgentReport, AgentTransport, AgentTransportFactory, DeliveryInfo, TransportHealth, WorkItem } from '@sprout/kernel';

export const httpAgentTransport: AgentTransportFactory = async (options) =>
  new HttpAgentTransport(options.controlPlaneUrl, options.agentId, options.credential, Number(options.settings.waitSeconds ?? 25), Number(options.settings.ackWaitMs ?? 60_000), options.logger);

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
      for (const { item, delivery } of items) {
        if (this.closing) return;
        await this.work(item, delivery);
      }
    }
  }

  /** Runs and settles one item, even while closing: close() waits for it, up to a lease. */
  private async work(item: WorkItem, delivery: DeliveryInfo): Promise<void> {
    // Keep the lease while the task runs, so no other agent of the site gets it meanwhile.
    const keepLease = setInterval(() => {
      this.call('POST', 'work/settle', { ids: [item.id], outcome: 'working' }, this.hangUp.signal).catch((err) => this.logger.warn({ err, item: item.id }, 'could not extend the lease of a running work item'));
    }, Math.max(this.ackWaitMs / 3, 100));
    keepLease.unref();
    try {
      await this.handler!(item, delivery);
    } catch (err) {
      clearInterval(keepLease);
      this.logger.warn({ err, item: item.id }, 'work item failed; giving it back for redelivery');
      await this.call('POST', 'work/settle', { ids: [item.id], outcome: 'nak' }, this.hangUp.signal).catch((nakErr) => this.logger.warn({ err: nakErr, item: item.id }, 'could not give a failed work item back; it is delivered again when its lease ends'));
      return;
    }
    clearInterval(keepLease);
    // A lost ack costs a redelivery, which the work item id makes harmless.
    await this.call('POST', 'work/settle', { ids: [item.id], outcome: 'ack' }, this.hangUp.signal).catch((err) => this.logger.warn({ err, item: item.id }, 'could not acknowledge a finished work item; it will be delivered again'));
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
