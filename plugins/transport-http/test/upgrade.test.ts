/**
 * Upgrading an installation whose transport-http kept its own queue: kernel migration
 * 0014 carries each held item's lease state into the outbox (an item never delivered
 * becomes undispatched again, a dead letter not yet handled stays exhausted for the
 * handler), and the plugin's 0004 drops the old tables.
 */
import test from 'ava';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import knexModule from 'knex';
import { kernelMigrations, migrateToLatest, type MigrationFolder } from '../../../kernel/src/store/migrate.ts';
import { postgresUrl, withPostgres } from '@sprout/test-support/harness.ts';

const createKnex = (knexModule as any).knex ?? knexModule;
const pluginMigrations: MigrationFolder = { owner: 'transport-http', dir: new URL('../migrations/', import.meta.url).pathname };

/** The folders as they were before the outbox queue: kernel migrations up to 0012, the plugin's up to 0003. */
function foldersBefore(): { folders: MigrationFolder[]; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'sprout-upgrade-'));
  const copy = (from: MigrationFolder, last: number): MigrationFolder => {
    const dir = join(root, from.owner);
    for (const file of readdirSync(from.dir).filter((f) => /^\d{4}_.*\.ts$/.test(f) && Number(f.slice(0, 4)) <= last))
      cpSync(join(from.dir, file), join(dir, file));
    return { owner: from.owner, dir };
  };
  return { folders: [copy(kernelMigrations, 12), copy(pluginMigrations, 3)], remove: () => rmSync(root, { recursive: true, force: true }) };
}

test('postgres: held items keep their lease state in the outbox; the old tables go', async (t) => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  await withPostgres((db: any) => db.raw(`create schema ${schema}`));
  const db = createKnex({ client: 'pg', connection: postgresUrl, searchPath: [schema], pool: { min: 0, max: 2 } });
  const before = foldersBefore();
  t.teardown(async () => {
    before.remove();
    await db.destroy();
    await withPostgres((admin: any) => admin.raw(`drop schema ${schema} cascade`));
  });
  await migrateToLatest(db, before.folders);
  const siteId = randomUUID();
  await db('sites').insert({ id: siteId, name: 'up' });
  const ids = (
    await db('outbox')
      .insert([0, 1, 2, 3, 4].map((i) => ({ site_id: siteId, kind: 'k', payload: JSON.stringify({ i }), dispatched_at: db.fn.now() })))
      .returning('id')
  ).map((r: any) => Number(r.id ?? r));
  const [unsent, leased, acked, dead, deadUnhandled] = ids;
  const item = (id: number, extra: Record<string, unknown>) => ({ id: `wi-${id}`, site_id: siteId, item: JSON.stringify({ id: `wi-${id}` }), ...extra });
  await db('http_work_items').insert([
    item(unsent, {}),
    item(leased, { deliveries: 2, available_at: db.raw(`now() + interval '1 minute'`) }),
    item(acked, { deliveries: 1, acked_at: db.fn.now() }),
    item(dead, { deliveries: 5, dead_at: db.fn.now() }),
    item(deadUnhandled, { deliveries: 5, dead_at: db.fn.now() }),
  ]);
  await db('http_dead_letters').insert({ item_id: `wi-${deadUnhandled}`, item: JSON.stringify({}), reason: 'not acknowledged after 5 deliveries' });

  const applied = await migrateToLatest(db, [kernelMigrations, pluginMigrations]);
  t.true(applied.includes('kernel/0014_outbox_leases') && applied.includes('transport-http/0004_queue_in_outbox'), applied.join(', '));
  const rows = new Map<number, any>((await db('outbox').select('*')).map((row: any) => [Number(row.id), row]));
  t.is(rows.get(unsent).dispatched_at, null, 'never delivered: undispatched again');
  t.like(rows.get(leased), { deliveries: 2, acked_at: null, dead_at: null });
  t.true(new Date(rows.get(leased).available_at).getTime() > Date.now(), 'its lease still runs');
  t.truthy(rows.get(acked).acked_at);
  t.truthy(rows.get(dead).dead_at);
  t.like(rows.get(deadUnhandled), { deliveries: 5, dead_at: null }, 'a dead letter not handled yet stays exhausted, for the handler');
  for (const table of ['http_work_items', 'http_report_inbox', 'http_dead_letters']) t.false(await db.schema.hasTable(table), table);
});
