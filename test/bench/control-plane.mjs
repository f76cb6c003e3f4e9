/**
 * A control plane as `sprout server` runs it (Kernel.boot with its own pino logger on
 * stdout, background sweeps on), on the shared PostgreSQL in a schema of its own so
 * nothing else in database `test` is touched, in its own process so the load tool and
 * the server each have theirs. Plain JavaScript run by plain node: the packages resolve
 * to their compiled dist/, as an installed Sprout runs them (the bench runner builds first).
 *
 *   node test/bench/control-plane.mjs '{"port":0,"dataDir":"…","schema":"bench_…","yaml":"…","databaseUrl":"…"}'
 *
 * Prints `ready {"url":…,"token":…}`; on SIGTERM stops the kernel, drops the schema and
 * exits. BENCH_SQL_COUNTS=<file> writes how often each SQL statement ran to that file on stop.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knexModule from 'knex';
import { Kernel, loadConfig } from '@sprout/kernel';
import { builtinPlugins } from '@sprout/cli/builtin-plugins';

/** @type {{ port: number; dataDir: string; schema: string; yaml?: string; databaseUrl: string; logLevel?: string; token?: string }} */
const spec = JSON.parse(process.argv[2]);
const createKnex = knexModule.knex ?? knexModule;
mkdirSync(spec.dataDir, { recursive: true });
// Another replica's token when given: the admin token is created once per database, by the first to boot.
const token = spec.token ?? `sprout_bench_admin_${randomBytes(16).toString('hex')}`;
const file = join(spec.dataDir, 'sprout.yaml');
writeFileSync(file, `listen: 127.0.0.1:${spec.port}\n${spec.yaml ?? ''}`);
const admin = createKnex({ client: 'pg', connection: spec.databaseUrl, pool: { min: 0, max: 1 } });
await admin.raw(`create schema if not exists ${spec.schema}`);
const { config } = loadConfig({
  file,
  env: { SPROUT_DATA_DIR: spec.dataDir, SPROUT_DATABASE_URL: spec.databaseUrl, SPROUT_ADMIN_TOKEN: token, SPROUT_LOG_LEVEL: spec.logLevel ?? 'info' },
});
const kernel = await Kernel.boot({ config, builtinPlugins, store: { schema: spec.schema } });
/** @type {Map<string, number>} */
const sqlCounts = new Map();
if (process.env.BENCH_SQL_COUNTS)
  kernel.store.db.on('query', (/** @type {{ sql: string }} */ q) => {
    const k = q.sql.replace(/\$\d+/g, '?').replace(/\s+/g, ' ').slice(0, 160);
    sqlCounts.set(k, (sqlCounts.get(k) ?? 0) + 1);
  });
const url = await kernel.listen();
console.log(`ready ${JSON.stringify({ url, token })}`);

let stopping = false;
process.on('SIGTERM', async () => {
  if (stopping) return;
  stopping = true;
  if (process.env.BENCH_SQL_COUNTS)
    writeFileSync(
      process.env.BENCH_SQL_COUNTS,
      [...sqlCounts]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${n}\t${k}`)
        .join('\n'),
    );
  await kernel.stop().catch((err) => console.error(err));
  await admin.raw(`drop schema if exists ${spec.schema} cascade`).catch((err) => console.error(err));
  await admin.destroy();
  console.log('stopped');
  process.exit(0);
});
