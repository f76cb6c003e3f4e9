/**
 * A small client for NetBox's REST API as NetBox expects to be called: `Authorization:
 * Token …`, JSON both ways. Answers the caller did not expect become a SproutError with
 * NetBox's status and an excerpt of its body; the token never appears in a message.
 */
import { SproutError } from '@sprout/kernel/sdk';

export interface NetboxClientOptions {
  pluginId: string;
  url: string;
  token: string;
  timeoutMs: number;
}

export interface NetboxAnswer<T> {
  status: number;
  body: T;
}

const excerptLength = 300;

export class NetboxClient {
  private readonly base: string;

  constructor(private readonly options: NetboxClientOptions) {
    this.base = options.url.endsWith('/') ? options.url : `${options.url}/`;
  }

  /**
   * Calls NetBox and returns its answer when the status is one of `accept`; any other
   * status, or no answer at all, is thrown as a SproutError.
   */
  async call<T>(method: string, path: string, { body, accept = [200, 201, 204] }: { body?: unknown; accept?: number[] } = {}): Promise<NetboxAnswer<T>> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Token ${this.options.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      const reason = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw new SproutError('SPROUT_ERR_UNAVAILABLE', `NetBox at ${this.options.url} did not answer ${method} ${url.pathname}: ${this.scrub(reason)}`, {
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
        throw new SproutError('SPROUT_ERR_UNAVAILABLE', `NetBox answered ${response.status} to ${method} ${url.pathname} with a body that is not JSON: ${this.excerpt(text)}`, {
          cause: err,
          context: { plugin: this.options.pluginId, upstreamStatus: response.status },
        });
      }
    }
    return { status: response.status, body: parsed as T };
  }

  /** An answer the stub cannot use: NetBox's status and what it said. */
  refusal(method: string, path: string, status: number, text: string): SproutError {
    const said = this.excerpt(text);
    const context = { plugin: this.options.pluginId, method, path, upstreamStatus: status, upstreamBody: said };
    if (status === 401 || status === 403) {
      return new SproutError('SPROUT_ERR_CONFIG', `NetBox refused ${method} ${path} with ${status} (${said}); check plugins.${this.options.pluginId}.token and the token's permissions`, { context });
    }
    return new SproutError('SPROUT_ERR_UNAVAILABLE', `NetBox answered ${status} to ${method} ${path}: ${said}`, { context });
  }

  private excerpt(text: string): string {
    const flat = this.scrub(text).replace(/\s+/g, ' ').trim();
    return flat.length > excerptLength ? `${flat.slice(0, excerptLength)}…` : flat || '(empty body)';
  }

  private scrub(text: string): string {
    return this.options.token ? text.split(this.options.token).join('********') : text;
  }
}
