/**
 * How the CLI (and plugin commands) reach the API: URL and token from SPROUT_URL and
 * SPROUT_TOKEN, else the profile written by `sprout login`, else the local server's
 * defaults (its listen address and the admin token file in its data directory).
 * Requests go through @sprout/client (openapi-fetch on the generated types): `typed` for calls
 * checked against the OpenAPI document — the only one the builtin CLI uses — and
 * `request`/`get`/`post`… for plugins' commands, whose routes the document does not hold.
 * Problem responses become ApiErrors that keep code, detail and field errors.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createSproutClient, type SproutClient } from '@sprout/client';
import { readProfile } from './profile.ts';
import { explainTlsFailure, trustingDispatcher } from '../tls/trust.ts';

export { ApiError, type ProblemBody, type SproutClient } from '@sprout/client';

export interface ApiTarget {
  url: string;
  token?: string;
  /** PEM file of a CA trusted on top of the system store (--ca, SPROUT_CA, the profile's `ca`). */
  ca?: string;
  /** Where url and token came from, for error messages. */
  source: string;
}

export interface LocalDefaults {
  listen: string;
  /** The local server serves HTTPS (`tls:` in its config). */
  tls?: boolean;
  adminTokenFile: string;
}

/** `ca` is the --ca flag's value; it wins over SPROUT_CA and the profile's. */
export function resolveTarget(env: NodeJS.ProcessEnv = process.env, local?: LocalDefaults, ca?: string): ApiTarget {
  const target = resolveUrlAndToken(env, local);
  const trusted = ca ?? (env.SPROUT_CA || undefined) ?? target.profileCa;
  return { url: target.url, token: target.token, source: target.source, ...(trusted ? { ca: trusted } : {}) };
}

function resolveUrlAndToken(env: NodeJS.ProcessEnv, local?: LocalDefaults): ApiTarget & { profileCa?: string } {
  const profile = readProfile(env);
  if (env.SPROUT_URL || env.SPROUT_TOKEN) {
    return {
      url: env.SPROUT_URL ?? profile?.url ?? localUrl(local),
      token: env.SPROUT_TOKEN ?? profile?.token,
      source: 'SPROUT_URL/SPROUT_TOKEN',
      profileCa: profile?.ca,
    };
  }
  if (profile) return { url: profile.url, token: profile.token, source: 'profile (sprout login)', profileCa: profile.ca };
  const token = local && existsSync(local.adminTokenFile) ? readFileSync(local.adminTokenFile, 'utf8').trim() : undefined;
  return { url: localUrl(local), token, source: token ? `local server (${local!.adminTokenFile})` : 'local server defaults' };
}

function localUrl(local?: LocalDefaults): string {
  const listen = local?.listen ?? '127.0.0.1:7480';
  const host = listen.replace(/:\d+$/, '').replace(/^0\.0\.0\.0$|^::$|^\[::\]$/, '127.0.0.1');
  return `${local?.tls ? 'https' : 'http'}://${host}:${listen.split(':').pop()}`;
}

export class ApiClient {
  private client?: SproutClient;

  constructor(readonly target: ApiTarget) {}

  /** The typed client: paths, parameters, bodies and answers checked against the OpenAPI document. */
  get typed(): SproutClient {
    this.client ??= createSproutClient({
      baseUrl: this.target.url.replace(/\/+$/, ''),
      token: this.target.token,
      // trustingDispatcher's errors (unreadable --ca file) are not TypeErrors: they pass through as they are.
      fetch: async (request) => {
        const dispatcher = this.target.ca && request.url.startsWith('https:') ? await trustingDispatcher(this.target.ca) : undefined;
        return fetch(request, (dispatcher ? { dispatcher } : {}) as RequestInit);
      },
      unreachable: (err) => {
        const tls = explainTlsFailure(
          err,
          this.target.url,
          this.target.ca ? `--ca FILE (the CA in ${this.target.ca} did not sign it)` : '--ca FILE (or SPROUT_CA, or `sprout login --ca FILE`)',
        );
        if (tls) return `${tls} (URL from ${this.target.source})`;
        return `cannot reach the Sprout API at ${this.target.url} (${err.cause?.message ?? err.message}); is \`sprout server\` running? (URL from ${this.target.source})`;
      },
    });
    return this.client;
  }

  /** Untyped: `path` is a concrete path (ids filled in). `raw` sends a non-JSON body as is (e.g. CSV). */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string | number | undefined>,
    raw?: { body: string; contentType: string },
  ): Promise<T> {
    const params = Object.fromEntries(Object.entries(query ?? {}).filter(([, v]) => v !== undefined && v !== ''));
    const init: Record<string, unknown> = { params: { query: params }, parseAs: 'text' };
    if (raw) Object.assign(init, { body: raw.body, bodySerializer: (b: string) => b, headers: { 'content-type': raw.contentType } });
    else if (body !== undefined) init.body = body;
    const { data } = await (this.typed.request as (method: string, path: string, init: unknown) => Promise<{ data?: string }>)(
      method.toLowerCase(),
      path.startsWith('/') ? path : `/${path}`,
      init,
    );
    return (data ? safeJson(data) : undefined) as T;
  }

  get<T>(path: string, query?: Record<string, string | number | undefined>) {
    return this.request<T>('GET', path, undefined, query);
  }

  post<T>(path: string, body: unknown = {}) {
    return this.request<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown) {
    return this.request<T>('PATCH', path, body);
  }

  delete<T>(path: string) {
    return this.request<T>('DELETE', path);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text };
  }
}
