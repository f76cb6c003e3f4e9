/**
 * Opens the database: PostgreSQL through `pg` when a URL is configured, otherwise the
 * embedded PGlite in the data directory (locked against a second process). Both come
 * back as the same knex instance with the same value types: bigint and count(*) are
 * numbers on both drivers.
 */
import { join } from 'node:path';
import knexModule, { type Knex } from 'knex';
import pg from 'pg';
import { lockDataDir, type DataDirLock } from './data-dir-lock.ts';
import { maskUrls } from '../config/mask-secrets.ts';
import { ensurePrivateDir, tightenTree } from './private-dir.ts';

const createKnex = (knexModule as unknown as { knex: typeof knexModule }).knex ?? knexModule;

export interface Store {
  db: Knex;
  kind: 'postgres' | 'pglite';
  /** Where the data is, for messages: a URL with its secrets masked, or a folder. */
  location: string;
  /** The PostgreSQL schema, when not `public`: control planes on other schemas of the same server are other installations. */
  schema?: string;
  close(): Promise<void>;
  /** Takes group/other permissions off the store's files (PGlite creates its own 0666); a no-op on PostgreSQL. */
  tightenFiles(): void;
}

export interface StoreOptions {
  databaseUrl?: string;
  dataDir: string;
  /** PostgreSQL schema to use instead of `public` (tests isolate themselves this way). */
  schema?: string;
  /** PGlite in memory, for tests that need no files. */
  inMemory?: boolean;
  /** Where to say that a folder's modes were tightened. */
  log?: (message: string) => void;
}

const INT8 = 20;
const NUMERIC = 1700;

/** pg returns int8 and numeric as strings to protect precision; our ids and counts fit a double. */
function numberParser(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) || !Number.isInteger(n) ? n : text;
}

const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 || oid === NUMERIC) return numberParser;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

export async function openStore(options: StoreOptions): Promise<Store> {
  if (options.databaseUrl) {
    const db = createKnex({
      client: 'pg',
      connection: { connectionString: options.databaseUrl, types: pgTypes } as Knex.PgConnectionConfig,
      searchPath: options.schema ? [options.schema] : undefined,
      pool: { min: 0, max: 10 },
      acquireConnectionTimeout: 10_000,
    });
    return {
      db,
      kind: 'postgres',
      location: maskUrls(options.databaseUrl),
      ...(options.schema ? { schema: options.schema } : {}),
      close: () => db.destroy(),
      tightenFiles() {},
    };
  }
  const dir = join(options.dataDir, 'pglite');
  let lock: DataDirLock | undefined;
  if (!options.inMemory) {
    lock = await lockDataDir(options.dataDir, 'pglite', options.log);
    ensurePrivateDir(dir, options.log);
  }
  const tightenFiles = () => {
    if (!options.inMemory) tightenTree(dir);
  };
  try {
    // Loaded only here: PGlite and its knex client cost ~45 MiB in every process that
    // imports the kernel (a site agent, a control plane on PostgreSQL) and never opens it.
    const [{ default: ClientPgLite }, { PGlite }] = await Promise.all([import('knex-pglite'), import('@electric-sql/pglite')]);
    // knex-pglite names a delete's command `DEL` (from knex's method `del`), so knex's
    // PostgreSQL client, which answers a row count only for `DELETE`, hands back the raw
    // result: `await q.delete()` was an object, and `deleted > 0` never true. Named as
    // PostgreSQL names it, a delete answers its row count as it does on PostgreSQL.
    class PgLiteClient extends (ClientPgLite as unknown as { new (...args: any[]): { processResponse(obj: any, runner: unknown): unknown } }) {
      processResponse(obj: { method?: string; response?: Record<string, unknown> }, runner: unknown): unknown {
        if (obj.method === 'del' && obj.response) return super.processResponse({ ...obj, method: 'delete' }, runner);
        return super.processResponse(obj, runner);
      }
    }
    const db = createKnex({
      client: PgLiteClient as unknown as typeof Knex.Client,
      dialect: 'postgres',
      connection: { pglite: new PGlite({ dataDir: options.inMemory ? undefined : dir, parsers: { [INT8]: numberParser, [NUMERIC]: numberParser } }) },
      // The first connection starts PostgreSQL in WebAssembly: seconds, more on a busy machine.
      acquireConnectionTimeout: 120_000,
    } as Knex.Config);
    await db.raw('select 1');
    tightenFiles();
    return {
      db,
      kind: 'pglite',
      location: options.inMemory ? 'memory' : dir,
      tightenFiles,
      async close() {
        try {
          await db.destroy();
          tightenFiles();
        } finally {
          await lock?.release();
        }
      },
    };
  } catch (err) {
    await lock?.release();
    throw err;
  }
}
