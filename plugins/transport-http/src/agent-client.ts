/**
 * The agent half of the HTTP transport: long-polls `GET /v1/agents/{id}/work`, runs each
 * item, settles it (ack on success, nak on failure), and posts reports in batches.
 */
import type { AgentReport, AgentTransport, AgentTransportFactory, DeliveryInfo, TransportHealth, WorkItem } from '@sprout/kernel';

export const httpAgentTransport: AgentTransportFactory = async (options) => new HttpAgentTransport(options.controlPlaneUrl, options.agentId, options.credential, Number(options.settings.waitSeconds ?? 25), options.logger);

class HttpAgentTransport implements AgentTransport {
  private closed = false;
  private connected = false;
  private lastError = '';
  private loop?: Promise<void>;
  private readonly aborter = new AbortController();

  constructor(
    private readonly baseUrl: string,
    private readonly agentId: string,
    private readonly credential: string,
    private readonly waitSeconds: number,
    private readonly logger: { warn(o: object, m?: string): void },
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(new URL(`v1/agents/${this.agentId}/${path}`, this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`), {
      method,
      headers: { authorization: `Bearer ${this.credential}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: this.aborter.signal,
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

  async consumeWork(handler: (item: WorkItem, delivery: DeliveryInfo) => Promise<void>): Promise<void> {
    this.loop = (async () => {
      while (!this.closed) {
        try {
          const { items } = await this.call<{ items: { item: WorkItem; delivery: DeliveryInfo }[] }>('GET', `work?wait=${this.waitSeconds}`);
          this.connected = true;
          for (const { item, delivery } of items) {
            if (this.closed) return;
            try {
              await handler(item, delivery);
              await this.call('POST', 'work/settle', { ids: [item.id], outcome: 'ack' });
            } catch (err) {
              if (this.closed) return;
              this.logger.warn({ err, item: item.id }, 'work item failed; giving it back for redelivery');
              await this.call('POST', 'work/settle', { ids: [item.id], outcome: 'nak' }).catch(() => undefined);
            }
          }
        } catch (err) {
          if (this.closed) return;
          this.connected = false;
          this.lastError = (err as Error).message;
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
    })();
  }

  async publishReports(reports: AgentReport[]): Promise<void> {
    await this.call('POST', 'reports', { reports });
    this.connected = true;
  }

  health(): TransportHealth {
    return { connected: this.connected, detail: this.connected ? `long-polling ${this.baseUrl}` : this.lastError || 'not connected yet' };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.aborter.abort();
    await this.loop?.catch(() => undefined);
  }
}
