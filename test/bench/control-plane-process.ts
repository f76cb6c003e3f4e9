/** Starts the bench's control plane (control-plane.mjs) and the bare fastify baseline (bare-fastify.mjs) as child processes, both plain node, and a small REST client for seeding. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sproutNodeArgs, startChild, type Child, type Cleanup } from './bench-kit.ts';

export const databaseUrl = process.env.SPROUT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface ControlPlane {
  url: string;
  token: string;
  schema: string;
  dataDir: string;
  child: Child;
  api<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  /** How many requests answered 503 and were tried again. */
  unavailable: { retried: number };
  stop(): Promise<void>;
}

function entry(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

/**
 * `schema`, `token` and `dataDir`, when given, are another control plane's (replicas on
 * one database, or one started again after a crash); the first to stop drops the schema.
 */
export async function startControlPlane(
  cleanup: Cleanup,
  options: { yaml?: string; logLevel?: string; schema?: string; token?: string; dataDir?: string } = {},
): Promise<ControlPlane> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'sprout-bench-cp-'));
  cleanup.add('remove the control plane folder', () => rmSync(dataDir, { recursive: true, force: true }));
  const schema = options.schema ?? `bench_${randomBytes(5).toString('hex')}`;
  const child = startChild(cleanup, process.execPath, [
    ...sproutNodeArgs(),
    entry('control-plane.mjs'),
    JSON.stringify({ port: 0, databaseUrl, yaml: options.yaml, logLevel: options.logLevel, token: options.token, dataDir, schema }),
  ]);
  // SIGTERM lets it drop its schema; the registered stop comes after and finds it gone.
  cleanup.add(`stop the control plane (schema ${schema})`, async () => {
    child.process.kill('SIGTERM');
    await Promise.race([child.exited, new Promise((r) => setTimeout(r, 15_000))]);
  });
  const line = await child.waitFor(/ready \{.*\}/, 120_000);
  const { url, token } = JSON.parse(line.slice(6));
  const unavailable = { retried: 0 };
  const api = async (method: string, path: string, body?: unknown) => {
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      // A 503 says "try again shortly" (the database pool was busy): a script does, a few times.
      if (response.status === 503 && attempt < 5) {
        unavailable.retried++;
        await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
        continue;
      }
      if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 500)}`);
      return text ? JSON.parse(text) : undefined;
    }
  };
  return {
    url,
    token,
    schema,
    dataDir,
    child,
    api,
    unavailable,
    async stop() {
      child.process.kill('SIGTERM');
      await Promise.race([child.exited, new Promise((r) => setTimeout(r, 15_000))]);
      await child.stop();
    },
  };
}

export async function startBareFastify(cleanup: Cleanup, schema: string): Promise<{ url: string; child: Child }> {
  const child = startChild(cleanup, process.execPath, [entry('bare-fastify.mjs'), JSON.stringify({ databaseUrl, schema })]);
  const line = await child.waitFor(/ready \{.*\}/, 60_000);
  return { url: JSON.parse(line.slice(6)).url, child };
}

/** Imports `count` machines into `site` in chunks; returns their ids. */
export async function importMachines(cp: ControlPlane, site: string, count: number, prefix = 'node'): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1000) {
    const rows = Array.from({ length: Math.min(1000, count - start) }, (_, k) => {
      const n = start + k + 1;
      return {
        site,
        hostname: `${prefix}-${n}`,
        arch: 'x86_64',
        bootMode: 'bios',
        tags: [n % 2 ? 'odd' : 'even'],
        interfaces: [{ mac: macFor(n, prefix.length), pxe: true }],
      };
    });
    const result = await cp.api<{ rows: { outcome: string; id?: string; hostname: string }[] }>('POST', '/v1/machines/import', rows);
    const failed = result.rows.find((r) => r.outcome === 'error');
    if (failed) throw new Error(`import failed: ${JSON.stringify(failed)}`);
  }
  // The import answers hostnames; ids come from a listing.
  let cursor: string | null = null;
  do {
    const page: { items: { id: string }[]; nextCursor: string | null } = await cp.api(
      'GET',
      `/v1/machines?site=${site}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    ids.push(...page.items.map((m) => m.id));
    cursor = page.nextCursor;
  } while (cursor && ids.length < count);
  return ids;
}

export function macFor(n: number, salt = 0): string {
  const bytes = [0x02, salt & 0xff, (n >> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
