/**
 * Runs the kernel's migrations (the kernel package's own `migrations/`) and then each active plugin's,
 * in plugin dependency order. Names are `<owner>/<file>` so two owners never collide.
 * A migrations folder holds TypeScript; a kernel run from dist/ reads the folder's
 * compiled dist/ instead (`npm run build`), under the same names.
 */
import { readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import { importFile, runningFromSource } from '../plugins/import-module.ts';

export interface MigrationFolder {
  owner: string;
  dir: string;
}

/**
 * `<kernel package>/migrations`: this module is `src/store/migrate.ts` under tests and
 * `dist/store/migrate.js` under plain node, two folders below the package either way, so
 * an installed `@sprout/kernel` finds its migrations inside itself.
 */
export const kernelMigrations: MigrationFolder = {
  owner: 'kernel',
  dir: resolve(fileURLToPath(new URL('.', import.meta.url)), '../../migrations'),
};

interface Migration {
  name: string;
  file: string;
}

class FolderMigrationSource implements Knex.MigrationSource<Migration> {
  constructor(private readonly folders: MigrationFolder[]) {}

  async getMigrations(): Promise<Migration[]> {
    return this.folders.flatMap(({ owner, dir: source }) => {
      const dir = runningFromSource || !existsSync(join(source, 'dist')) ? source : join(source, 'dist');
      return existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => /^\d+.*\.(ts|js|mjs)$/.test(f) && !f.endsWith('.d.ts'))
            .sort()
            .map((f) => ({ name: `${owner}/${f.replace(/\.(ts|js|mjs)$/, '')}`, file: join(dir, f) }))
        : [];
    });
  }

  getMigrationName(migration: Migration): string {
    return migration.name;
  }

  async getMigration(migration: Migration): Promise<Knex.Migration> {
    return importFile(migration.file);
  }
}

const migrationConfig = (folders: MigrationFolder[]): Knex.MigratorConfig => ({
  migrationSource: new FolderMigrationSource(folders),
  tableName: 'sprout_migrations',
  // A plugin switched off (say ipam-builtin after `capabilities.ipam.use: netbox-stub`)
  // leaves its applied migrations, and its tables, behind; that is not a corrupt history.
  disableMigrationsListValidation: true,
});

export async function migrateToLatest(db: Knex, folders: MigrationFolder[]): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(migrationConfig(folders))) as [number, string[]];
  return applied;
}

/** Names of migrations not applied yet: empty means the schema is current. */
export async function pendingMigrations(db: Knex, folders: MigrationFolder[]): Promise<string[]> {
  const [, pending] = (await db.migrate.list(migrationConfig(folders))) as [unknown[], Migration[]];
  return pending.map((m) => m.name);
}
