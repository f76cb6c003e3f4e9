/**
 * How the CLI (and plugin commands) reach the API: URL and token from SPROUT_URL and
 * SPROUT_TOKEN, else the profile written by `sprout login`, else the local server's
 * defaults (its listen address and the admin token file in its data directory).
 * Problem responses become ApiErrors that keep code, detail and field errors.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readProfile } from './profile.ts';
import { explainTlsFailure, trustingDispatcher } from '../tls/trust.ts';

export interface ProblemBody {
  code?: string;
  title?: string;
  status?: number;
  detail?: string;
  requestId?: string;
  errors?: { field?: string; message: string }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: ProblemBody,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = 'ApiError';
  }

  explain(): string {
    const lines = [`${this.message}${this.problem.code ? ` (${this.problem.code}, HTTP ${this.status})` : ` (HTTP ${this.status})`}`];
    for (const e of this.problem.errors ?? []) lines.push(`  - ${e.field ? `${e.field}: ` : ''}${e.message}`);
    return lines.join('\n');
  }
}

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
    return { url: env.SPROUT_URL ?? profile?.url ?? localUrl(local), token: env.SPROUT_TOKEN ?? profile?.token, source: 'SPROUT_URL/SPROUT_TOKEN', profileCa: profile?.ca };
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
  constructor(readonly target: ApiTarget) {}

  /** `raw` sends a non-JSON body as is (e.g. CSV). */
  async request<T>(method: string, path: string, body?: unknown, query?: Record<string, string | number | undefined>, raw?: { body: string; contentType: string }): Promise<T> {
    const url = new URL(path, this.target.url.endsWith('/') ? this.target.url : `${this.target.url}/`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (this.target.token) headers.authorization = `Bearer ${this.target.token}`;
    if (raw) headers['content-type'] = raw.contentType;
    else if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    const dispatcher = this.target.ca && url.protocol === 'https:' ? await trustingDispatcher(this.target.ca) : undefined;
    try {
      response = await fetch(url, { method, headers, body: raw ? raw.body : body === undefined ? undefined : JSON.stringify(body), ...(dispatcher ? { dispatcher } : {}) } as RequestInit);
    } catch (err) {
      const tls = explainTlsFailure(err, this.target.url, this.target.ca ? `--ca FILE (the CA in ${this.target.ca} did not sign it)` : '--ca FILE (or SPROUT_CA, or `sprout login --ca FILE`)');
      if (tls) throw new ApiError(0, { code: 'SPROUT_ERR_UNAVAILABLE', detail: `${tls} (URL from ${this.target.source})` });
      throw new ApiError(0, {
        code: 'SPROUT_ERR_UNAVAILABLE',
        detail: `cannot reach the Sprout API at ${this.target.url} (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}); is \`sprout server\` running? (URL from ${this.target.source})`,
      });
    }
    const text = await response.text();
    const parsed = text ? safeJson(text) : undefined;
    if (!response.ok) {
      throw new ApiError(response.status, typeof parsed === 'object' && parsed ? (parsed as ProblemBody) : { detail: text || response.statusText });
    }
    return parsed as T;
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
