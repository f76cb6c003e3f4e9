import { SproutCommand, Command } from '@sprout/kernel/cli';
import { configOption, readConfig } from './config-option.ts';

export class ServerCommand extends SproutCommand {
  static paths = [['server']];
  static usage = Command.Usage({
    category: 'Control plane',
    description: 'Run the control plane: REST API, plugins and database',
    details: 'Uses PostgreSQL when `database.url` (or SPROUT_DATABASE_URL) is set, else the embedded PGlite in the data directory. On first start it writes an admin token to `<dataDir>/admin-token`.',
    examples: [['Run on the embedded defaults', 'sprout server'], ['Run against PostgreSQL', 'SPROUT_DATABASE_URL=postgres://sprout@db/sprout sprout server']],
  });

  config = configOption();

  async run() {
    const { config } = await readConfig(this.config);
    const { Kernel } = await import('@sprout/kernel');
    const kernel = await Kernel.boot({ config });
    const address = await kernel.listen();
    kernel.logger.info({ address, docs: `${address}/docs`, database: kernel.store.location }, 'sprout server is listening');
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await kernel.stop();
    return 0;
  }
}
