/**
 * One NATS connection and what is known about it. The first connection is made on first
 * use, and a failed attempt is an error naming the URL (the next use tries again); once
 * connected, the client reconnects forever and health() follows its status events.
 * It never prints credentials: only the redacted URL appears in errors and details.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { SproutError, type TransportHealth } from '@sprout/kernel/sdk';
import { natsTarget, redactNatsUrl, type NatsTarget } from './nats-url.ts';

const pluginId = 'transport-nats';

export interface NatsLinkOptions {
  /** Unset when the operator configured none: every use then fails with a config error. */
  url: string | undefined;
  /** Shown in the server's connection list, e.g. `sprout-control-plane`. */
  name: string;
  /** Where the unset URL would be configured, for the error message. */
  urlKey: string;
  /** Where replies to this client arrive; the default `_INBOX` unless its permissions are narrower. */
  inboxPrefix?: string;
  reconnectWaitMs?: number;
}

type LinkState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'reconnecting' | 'closed';

export class NatsLink {
  private nc: NatsConnection | undefined;
  private attempt: Promise<NatsConnection> | undefined;
  private state: LinkState = 'idle';
  private lastError: string | undefined;
  private server: string | undefined;
  private readonly target: NatsTarget | undefined;
  private readonly targetError: SproutError | undefined;

  constructor(private readonly options: NatsLinkOptions) {
    if (options.url === undefined || options.url === '') {
      this.targetError = new SproutError('SPROUT_ERR_CONFIG', `${pluginId}: no NATS URL is configured; set ${options.urlKey}`, {
        details: [{ field: options.urlKey, message: 'is required by the NATS transport' }],
        context: { plugin: pluginId },
      });
    } else {
      try {
        this.target = natsTarget(options.url);
      } catch (err) {
        this.targetError = new SproutError(
          'SPROUT_ERR_CONFIG',
          `${pluginId}: ${options.urlKey} ${redactNatsUrl(options.url)} is not usable: ${(err as Error).message}`,
          {
            details: [{ field: options.urlKey, message: (err as Error).message }],
            context: { plugin: pluginId, url: redactNatsUrl(options.url) },
          },
        );
      }
    }
  }

  /** The URL as it may be shown (password hidden). */
  get url(): string {
    return this.target?.shown ?? '(unset)';
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** The connection, made now if there is none; rejects with a SproutError naming the URL. */
  connection(): Promise<NatsConnection> {
    if (this.targetError) return Promise.reject(this.targetError);
    if (this.state === 'closed') return Promise.reject(this.unavailable('the transport is closed'));
    if (this.nc) return Promise.resolve(this.nc);
    this.attempt ??= this.connect().finally(() => {
      this.attempt = undefined;
    });
    return this.attempt;
  }

  /** Fails fast when not connected right now, so callers (outbox, agent journal) retry later. */
  connectedNow(): Promise<NatsConnection> {
    if (this.nc && this.state !== 'connected') return Promise.reject(this.unavailable(`${this.state}${this.lastError ? ` (${this.lastError})` : ''}`));
    return this.connection();
  }

  health(): TransportHealth {
    if (this.targetError) return { connected: false, detail: this.targetError.message };
    const why = this.lastError ? `: ${this.lastError}` : '';
    switch (this.state) {
      case 'connected':
        return { connected: true, detail: `connected to ${this.server ?? this.url}` };
      case 'idle':
        return { connected: false, detail: `not connected yet to ${this.url}` };
      case 'connecting':
        return { connected: false, detail: `connecting to ${this.url}${why}` };
      case 'disconnected':
        return { connected: false, detail: `disconnected from ${this.server ?? this.url}${why}` };
      case 'reconnecting':
        return { connected: false, detail: `reconnecting to ${this.url}${why}` };
      case 'closed':
        return { connected: false, detail: `closed (was ${this.url})` };
    }
  }

  /** Drains: acknowledgements and publishes in flight are sent before the socket closes. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const nc = this.nc ?? (await this.attempt?.catch(() => undefined));
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }

  unavailable(why: string, cause?: unknown): SproutError {
    return new SproutError('SPROUT_ERR_UNAVAILABLE', `${pluginId}: NATS at ${this.url} is unavailable: ${why}`, {
      context: { plugin: pluginId, url: this.url },
      cause,
    });
  }

  private async connect(): Promise<NatsConnection> {
    this.state = 'connecting';
    let nc: NatsConnection;
    try {
      nc = await connect({
        ...this.target!.options,
        name: this.options.name,
        ...(this.options.inboxPrefix ? { inboxPrefix: this.options.inboxPrefix } : {}),
        maxReconnectAttempts: -1,
        reconnectTimeWait: this.options.reconnectWaitMs ?? 1_000,
        reconnectJitter: 250,
        pingInterval: 15_000,
        timeout: 5_000,
      });
    } catch (err) {
      this.lastError = describe(err);
      if (this.state === 'connecting') this.state = 'disconnected';
      throw this.unavailable(this.lastError, err);
    }
    // close() may have been called while connecting.
    if ((this.state as LinkState) === 'closed') {
      await nc.close();
      throw this.unavailable('the transport is closed');
    }
    this.nc = nc;
    this.state = 'connected';
    this.lastError = undefined;
    this.server = this.shownServer(nc.getServer());
    void this.follow(nc);
    return nc;
  }

  private shownServer(hostPort: string): string {
    return `${this.target?.options.tls ? 'tls' : 'nats'}://${hostPort}`;
  }

  private async follow(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (this.state === 'closed') continue;
      switch (status.type) {
        case 'disconnect':
          this.state = 'disconnected';
          this.server = this.shownServer(status.server);
          break;
        case 'reconnecting':
          this.state = 'reconnecting';
          break;
        case 'reconnect':
          this.state = 'connected';
          this.server = this.shownServer(status.server);
          this.lastError = undefined;
          break;
        case 'error':
          this.lastError = describe(status.error);
          break;
      }
    }
    // The client gave up on its own (e.g. rejected credentials): the next use connects anew.
    const reason = await nc.closed();
    if (this.state === 'closed' || this.nc !== nc) return;
    this.nc = undefined;
    this.state = 'disconnected';
    this.lastError = reason ? describe(reason) : 'the connection was closed';
  }
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: Error };
  return e.cause?.message && e.cause.message !== e.message ? `${e.message} (${e.cause.message})` : (e?.message ?? String(err));
}
