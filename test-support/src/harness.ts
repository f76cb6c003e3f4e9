/**
 * Boots real kernels for tests, on both stores: PostgreSQL (the server at
 * 127.0.0.1:5432, database `test`, one fresh schema per kernel) and PGlite in memory.
 * Everything a harness creates is removed by `stop()`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knexModule from 'knex';
import pino from 'pino';
import { Kernel, loadConfig, type Clock, type SproutConfig } from '@sprout/kernel';
import { builtinPlugins } from '@sprout/cli/builtin-plugins';

const createKnex = (knexModule as any).knex ?? knexModule;

export const postgresUrl = process.env.SPROUT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type Backend = 'postgres' | 'pglite';
export const backends: Backend[] = ['pglite', 'postgres'];

export interface Harness {
  kernel: Kernel;
  config: SproutConfig;
  dataDir: string;
  adminToken: string;
  /** Creates a token of `role` directly through the kernel and returns its secret. */
  token(role: 'viewer' | 'operator' | 'admin', name?: string): Promise<string>;
  /** app.inject with a bearer token. */
  request(options: {
    method?: string;
    url: string;
    token?: string | null;
    body?: unknown;
    headers?: Record<string, string>;
  }): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  builtinPlugins?: readonly string[];
  yaml?: string;
  clock?: Clock;
  /** Run the engine sweep and watchdog timers (default false: tests drive them). */
  background?: boolean;
}

/** A clock tests move by hand. */
export class TestClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export async function startHarness(backend: Backend, options: HarnessOptions = {}): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-test-'));
  const schema = backend === 'postgres' ? `t_${randomBytes(6).toString('hex')}` : undefined;
  const adminToken = `sprout_test_admin_${randomBytes(16).toString('hex')}`;
  let file: string | undefined;
  if (options.yaml) {
    file = join(dataDir, 'sprout.yaml');
    (await import('node:fs')).writeFileSync(file, options.yaml);
  }
  const env = {
    SPROUT_DATA_DIR: dataDir,
    SPROUT_LOG_LEVEL: 'silent',
    SPROUT_ADMIN_TOKEN: adminToken,
    ...(backend === 'postgres' ? { SPROUT_DATABASE_URL: postgresUrl } : {}),
    ...options.env,
  };
  const { config } = loadConfig({ file, env });
  if (schema) await withPostgres((db: any) => db.raw(`create schema ${schema}`));
  let kernel: Kernel;
  try {
    kernel = await Kernel.boot({
      config,
      logger: pino({ level: 'silent' }),
      builtinPlugins: options.builtinPlugins ?? builtinPlugins,
      env,
      clock: options.clock,
      background: options.background ?? false,
      store: backend === 'postgres' ? { schema } : { inMemory: true },
    });
  } catch (err) {
    if (schema) await withPostgres((db: any) => db.raw(`drop schema ${schema} cascade`));
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  let counter = 0;
  return {
    kernel,
    config,
    dataDir,
    adminToken,
    async token(role, name) {
      const made = await kernel.services.tokens.create({ name: name ?? `${role}-${++counter}-${randomBytes(3).toString('hex')}`, role, createdBy: 'test' });
      return made.secret;
    },
    async request({ method = 'GET', url, token, body, headers = {} }) {
      const h: Record<string, string> = { ...headers };
      const bearer = token === undefined ? adminToken : token;
      if (bearer) h.authorization = `Bearer ${bearer}`;
      const response = await kernel.app!.inject({
        method: method as any,
        url,
        headers: h,
        ...(body === undefined ? {} : typeof body === 'string' ? { payload: body } : { payload: body as object }),
      });
      let parsed: unknown = response.body;
      try {
        parsed = JSON.parse(response.body);
      } catch {
        /* not JSON */
      }
      return { status: response.statusCode, body: parsed, headers: response.headers as Record<string, unknown> };
    },
    async stop() {
      await kernel.stop();
      if (schema) await withPostgres((db: any) => db.raw(`drop schema ${schema} cascade`));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function withPostgres<T>(fn: (db: any) => Promise<T>): Promise<T> {
  const db = createKnex({ client: 'pg', connection: postgresUrl, pool: { min: 0, max: 1 } });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

/** A database of the test's own on the shared PostgreSQL (for `sprout server` processes), dropped at teardown; returns its URL. */
export async function freshDatabase(t: { teardown(fn: () => unknown): void }, prefix: string): Promise<string> {
  const database = `${prefix}_${randomBytes(5).toString('hex')}`;
  await withPostgres((db: any) => db.raw(`create database ${database}`));
  t.teardown(() => withPostgres((db: any) => db.raw(`drop database if exists ${database} with (force)`)));
  return postgresUrl.replace(/\/[^/]*$/, `/${database}`);
}
