/**
 * The HTTP client a plugin uses to talk to the upstream system it fronts (NetBox,
 * PowerDNS, a Kea Control Agent): JSON both ways, a timeout on every call, and every
 * answer the caller did not expect turned into a SproutError the API serves as a
 * problem with a code:
 *
 * - no answer at all (refused, reset, DNS, timeout) → `SPROUT_ERR_UNAVAILABLE`,
 *   "<name> at <url> did not answer <action>: <reason>";
 * - 401 or 403 → `SPROUT_ERR_CONFIG`, "<name> refused <action> with <status> (<body>);
 *   <credentialsHint>": the operator's credentials are wrong, retrying will not help;
 * - any other status not in `accept` → `SPROUT_ERR_UNAVAILABLE`, "<name> answered
 *   <status> to <action>: <body>";
 * - a body that is not JSON → `SPROUT_ERR_UNAVAILABLE`.
 *
 * Messages carry an excerpt of the upstream's body (300 characters, whitespace folded)
 * and `context.upstreamStatus` / `upstreamBody`; the `secrets` (tokens, passwords, API
 * keys) are replaced by `********` wherever they would appear. Exported by the light SDK:
 * it uses only the global fetch.
 */
import { SproutError } from '../errors/sprout-error.ts';

export interface UpstreamClientOptions {
  pluginId: string;
  /** The upstream's name in messages: `NetBox`, `PowerDNS`, `Kea Control Agent`. */
  name: string;
  /** The base URL; a call's path is resolved against it (`''` calls the URL itself). */
  url: string;
  /** Headers every request carries, e.g. the credentials (`authorization`, `x-api-key`). */
  headers?: Record<string, string>;
  /** Values never shown in a message or its context; replaced by `********`. */
  secrets?: readonly (string | undefined)[];
  /** What to tell the operator after a 401 or 403, e.g. `check plugins.netbox-stub.token`. */
  credentialsHint: string;
  timeoutMs: number;
}

export interface UpstreamCallOptions {
  /** Sent as JSON; no body when undefined. */
  body?: unknown;
  /** Statuses the caller handles itself; any other is thrown. Default 200, 201, 204. */
  accept?: readonly number[];
  /** How messages name this call; `METHOD /path` by default (Kea: the command's name). */
  action?: string;
  /** Added to every error's context, e.g. `{ command }`. */
  context?: Record<string, unknown>;
}

export interface UpstreamAnswer<T> {
  status: number;
  /** The parsed JSON body; undefined when the body was empty. */
  body: T;
}

const excerptLength = 300;
const mask = '********';

export class UpstreamClient {
  readonly base: string;

  constructor(readonly options: UpstreamClientOptions) {
    this.base = options.url.endsWith('/') ? options.url : `${options.url}/`;
  }

  async call<T = unknown>(
    method: string,
    path: string,
    { body, accept = [200, 201, 204], action, context = {} }: UpstreamCallOptions = {},
  ): Promise<UpstreamAnswer<T>> {
    const { name, pluginId, timeoutMs } = this.options;
    const url = path === '' ? new URL(this.options.url) : new URL(path.replace(/^\//, ''), this.base);
    const what = action ?? `${method} ${url.pathname}`;
    const where = { plugin: pluginId, method, path: url.pathname, ...context };
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...this.options.headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (err) {
      throw new SproutError('SPROUT_ERR_UNAVAILABLE', `${name} at ${this.options.url} did not answer ${what}: ${this.scrub(reasonOf(err, timeoutMs))}`, {
        cause: err,
        context: where,
      });
    }
    if (!accept.includes(response.status)) throw this.refusal(method, url.pathname, response.status, text, { action, context });
    let parsed: unknown;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new SproutError('SPROUT_ERR_UNAVAILABLE', `${name} answered ${response.status} to ${what} with a body that is not JSON: ${this.excerpt(text)}`, {
          cause: err,
          context: { ...where, upstreamStatus: response.status, upstreamBody: this.excerpt(text) },
        });
      }
    }
    return { status: response.status, body: parsed as T };
  }

  /** An answer the caller cannot use, as the error it throws: 401/403 are the operator's credentials, the rest the upstream's trouble. */
  refusal(
    method: string,
    path: string,
    status: number,
    text: string,
    { action, context = {} }: Pick<UpstreamCallOptions, 'action' | 'context'> = {},
  ): SproutError {
    const { name, pluginId, credentialsHint } = this.options;
    const what = action ?? `${method} ${path}`;
    const said = this.excerpt(text);
    const where = { plugin: pluginId, method, path, ...context, upstreamStatus: status, upstreamBody: said };
    if (status === 401 || status === 403)
      return new SproutError('SPROUT_ERR_CONFIG', `${name} refused ${what} with ${status} (${said}); ${credentialsHint}`, { context: where });
    return new SproutError('SPROUT_ERR_UNAVAILABLE', `${name} answered ${status} to ${what}: ${said}`, { context: where });
  }

  /** At most 300 characters of `text`, whitespace folded, secrets masked; `(empty body)` for nothing. */
  excerpt(text: string): string {
    const flat = this.scrub(text).replace(/\s+/g, ' ').trim();
    return flat.length > excerptLength ? `${flat.slice(0, excerptLength)}…` : flat || '(empty body)';
  }

  /** `text` with every secret replaced by `********`. */
  scrub(text: string): string {
    let scrubbed = text;
    for (const secret of this.options.secrets ?? []) if (secret) scrubbed = scrubbed.split(secret).join(mask);
    return scrubbed;
  }
}

function reasonOf(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && err.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  if (err instanceof Error) return err.cause instanceof Error ? err.cause.message : err.message;
  return String(err);
}
