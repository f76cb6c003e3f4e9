/**
 * A client for the PowerDNS Authoritative HTTP API as PowerDNS expects to be called:
 * `X-API-Key`, JSON both ways, zones addressed by their canonical name. Answers the
 * caller did not expect become a SproutError with PowerDNS's status and its `error`
 * text; the API key never appears in a message.
 */
import { SproutError } from '@sprout/kernel/sdk';

export interface PowerdnsClientOptions {
  pluginId: string;
  url: string;
  apiKey: string;
  timeoutMs: number;
}

const excerptLength = 300;

export class PowerdnsClient {
  private readonly base: string;

  constructor(private readonly options: PowerdnsClientOptions) {
    this.base = options.url.endsWith('/') ? options.url : `${options.url}/`;
  }

  async call<T>(method: string, path: string, { body, accept = [200, 204] }: { body?: unknown; accept?: number[] } = {}): Promise<{ status: number; body: T }> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { 'x-api-key': this.options.apiKey, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      const reason = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw new SproutError('SPROUT_ERR_UNAVAILABLE', `PowerDNS at ${this.options.url} did not answer ${method} ${url.pathname}: ${this.scrub(reason)}`, {
        cause: err,
        context: { plugin: this.options.pluginId, method, path: url.pathname },
      });
    }
    const text = await response.text();
    if (!accept.includes(response.status)) throw this.refusal(method, url.pathname, response.status, text);
    let parsed: unknown;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new SproutError('SPROUT_ERR_UNAVAILABLE', `PowerDNS answered ${response.status} to ${method} ${url.pathname} with a body that is not JSON: ${this.excerpt(text)}`, {
          cause: err,
          context: { plugin: this.options.pluginId, upstreamStatus: response.status },
        });
      }
    }
    return { status: response.status, body: parsed as T };
  }

  refusal(method: string, path: string, status: number, text: string): SproutError {
    const said = this.excerpt(text);
    const context = { plugin: this.options.pluginId, method, path, upstreamStatus: status, upstreamBody: said };
    if (status === 401 || status === 403) {
      return new SproutError('SPROUT_ERR_CONFIG', `PowerDNS refused ${method} ${path} with ${status} (${said}); check plugins.${this.options.pluginId}.apiKey`, { context });
    }
    return new SproutError('SPROUT_ERR_UNAVAILABLE', `PowerDNS answered ${status} to ${method} ${path}: ${said}`, { context });
  }

  private excerpt(text: string): string {
    const flat = this.scrub(text).replace(/\s+/g, ' ').trim();
    return flat.length > excerptLength ? `${flat.slice(0, excerptLength)}…` : flat || '(empty body)';
  }

  private scrub(text: string): string {
    return this.options.apiKey ? text.split(this.options.apiKey).join('********') : text;
  }
}
