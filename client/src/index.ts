/**
 * @sprout/client: a typed client for Sprout's HTTP API. The types (./schema.ts) are generated
 * from the control plane's OpenAPI document (`npm run client:generate`); requests go through
 * openapi-fetch. Every non-2xx answer and every unreachable server becomes an ApiError that
 * keeps the problem's code, status, detail and field errors, so callers never see `{ error }`.
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { paths } from './schema.ts';

export type { paths, components, operations } from './schema.ts';

/** An `application/problem+json` body as the API sends it (kernel/src/errors). */
export interface ProblemBody {
  type?: string;
  code?: string;
  title?: string;
  status?: number;
  detail?: string;
  requestId?: string;
  errors?: { field?: string; message: string }[];
}

/** A request the API refused (status ≥ 400) or could not answer (status 0, SPROUT_ERR_UNAVAILABLE). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: ProblemBody,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = 'ApiError';
  }

  /** The stable SPROUT_ERR_… code, when the server gave one. */
  get code(): string | undefined {
    return this.problem.code;
  }

  get detail(): string | undefined {
    return this.problem.detail;
  }

  /** The message, the code and status, then one line per field error: what the CLI prints. */
  explain(): string {
    const lines = [`${this.message}${this.problem.code ? ` (${this.problem.code}, HTTP ${this.status})` : ` (HTTP ${this.status})`}`];
    for (const e of this.problem.errors ?? []) lines.push(`  - ${e.field ? `${e.field}: ` : ''}${e.message}`);
    return lines.join('\n');
  }
}

export type SproutClient = Client<paths, 'application/json'>;

export interface SproutClientOptions {
  /** The control plane, e.g. https://sprout.example:7480 */
  baseUrl: string;
  /** An API token (`sprout token create`); sent as a bearer token. */
  token?: string;
  /** PEM text of a CA to trust on top of the system store (a private CA signed the server's certificate). Needs undici, loaded only then. */
  ca?: string;
  /** Replaces fetch (tests, or a caller that brings its own dispatcher). */
  fetch?: (request: Request) => Promise<Response>;
  /** The detail of the ApiError for a server that cannot be reached; default: "cannot reach the Sprout API at URL (cause)". */
  unreachable?: (err: Error & { cause?: Error }) => string;
}

export function createSproutClient(options: SproutClientOptions): SproutClient {
  const client = createClient<paths, 'application/json'>({
    baseUrl: options.baseUrl,
    headers: { accept: 'application/json, application/problem+json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
    fetch: options.fetch ?? (options.ca ? trustingFetch(options.ca) : undefined),
  });
  client.use(problemsAsErrors(options));
  return client;
}

/**
 * Resolves to the success body of a call, typed from the document; errors were already thrown
 * by the client. `const machine = await ok(client.GET('/v1/machines/{id}', { params: { path: { id } } }))`.
 */
export async function ok<D>(call: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D> {
  const result = await call;
  if (!result.response.ok) throw new ApiError(result.response.status, problemOf(result.error, result.response));
  return result.data as D;
}

function problemsAsErrors(options: SproutClientOptions): Middleware {
  return {
    async onResponse({ response }) {
      if (response.ok) return undefined;
      const text = await response.clone().text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON: the text is the detail */
      }
      throw new ApiError(response.status, problemOf(parsed, response));
    },
    onError({ error }) {
      // fetch rejects with a TypeError when the server cannot be reached; anything else (e.g. a
      // caller's fetch refusing a bad CA file) is already a meaningful error and passes as is.
      if (!(error instanceof TypeError)) return error instanceof Error ? error : new Error(String(error));
      const err = error as TypeError & { cause?: Error };
      const detail = options.unreachable?.(err) ?? `cannot reach the Sprout API at ${options.baseUrl} (${err.cause?.message ?? err.message})`;
      return new ApiError(0, { code: 'SPROUT_ERR_UNAVAILABLE', detail });
    },
  };
}

function problemOf(body: unknown, response: Response): ProblemBody {
  if (typeof body === 'object' && body) return body as ProblemBody;
  return { detail: (typeof body === 'string' && body) || response.statusText };
}

function trustingFetch(ca: string): (request: Request) => Promise<Response> {
  let dispatcher: Promise<object> | undefined;
  return async (request) => {
    dispatcher ??= Promise.all([import('undici'), import('node:tls')]).then(
      ([{ Agent }, { rootCertificates }]) => new Agent({ connect: { ca: [...rootCertificates, ca] } }),
    );
    return fetch(request, { dispatcher: await dispatcher } as RequestInit);
  };
}
