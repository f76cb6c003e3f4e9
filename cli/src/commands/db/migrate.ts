import { SproutCommand, Command } from '@sprout/kernel/cli';
import { configOption, readConfig } from '../config-option.ts';
import { builtinPlugins } from '../../builtin-plugins.ts';

export class DbMigrateCommand extends SproutCommand {
  static paths = [['db', 'migrate']];
  static usage = Command.Usage({
    category: 'Control plane',
    description: "Apply the kernel's and the active plugins' database migrations",
    details: 'The server also migrates on start; this runs them without starting it.',
    examples: [['Migrate', 'sprout db migrate']],
  });

  config = configOption();

  async run() {
    const { config } = await readConfig(this.config);
    const { openStore, migrateToLatest, kernelMigrations, inspectPlugins, importDefinition, SproutError } = await import('@sprout/kernel');
    const { plan, problems } = inspectPlugins(config, builtinPlugins);
    if (problems.length > 0) throw new SproutError('SPROUT_ERR_PLUGIN_VALIDATION', 'plugins failed validation', { details: problems });
    const folders = [kernelMigrations];
    for (const manifest of plan.active) {
      const definition = await importDefinition(manifest);
      if (definition.migrations) folders.push({ owner: manifest.id, dir: definition.migrations });
    }
    const store = await openStore({ databaseUrl: config.database.url, dataDir: config.dataDir });
    try {
      const applied = await migrateToLatest(store.db, folders);
      this.print({ database: store.location, applied }, () =>
        applied.length === 0
          ? `${store.location}: already up to date`
          : `${store.location}: applied ${applied.length}\n${applied.map((m) => `  ${m}`).join('\n')}`,
      );
    } finally {
      await store.close();
    }
  }
}
