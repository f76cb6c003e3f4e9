import { SproutCommand, Command } from '@sprout/kernel/cli';
import { configOption, readConfig } from './config-option.ts';
import { builtinPlugins } from '../builtin-plugins.ts';

export class ServerCommand extends SproutCommand {
  static paths = [['server']];
  static usage = Command.Usage({
    category: 'Control plane',
    description: 'Run the control plane: REST API, plugins and database',
    details:
      'With `tls: {cert, key}` (or SPROUT_TLS_CERT and SPROUT_TLS_KEY) it serves HTTPS; SIGHUP reloads the certificate and key without dropping the listener. Uses PostgreSQL when `database.url` (or SPROUT_DATABASE_URL) is set, else the embedded PGlite in the data directory. On first start it writes an admin token to `<dataDir>/admin-token`.',
    examples: [
      ['Run on the embedded defaults', 'sprout server'],
      ['Run against PostgreSQL', 'SPROUT_DATABASE_URL=postgres://sprout@db/sprout sprout server'],
    ],
  });

  config = configOption();

  async run() {
    const { config } = await readConfig(this.config);
    const { Kernel } = await import('@sprout/kernel');
    const kernel = await Kernel.boot({ config, builtinPlugins });
    const address = await kernel.listen();
    // SIGHUP re-reads tls.cert and tls.key (a renewed certificate) without closing the listener.
    const reloadTls = () => {
      if (!config.tls) return kernel.logger.warn({}, 'SIGHUP: no tls: in the config, nothing to reload');
      try {
        kernel.reloadTls();
        kernel.logger.info({ cert: config.tls.cert }, 'SIGHUP: TLS certificate and key reloaded; new connections get them');
      } catch (err) {
        const e = err as Error & { details?: { field?: string; message: string }[] };
        kernel.logger.error({ problems: e.details ?? [], err: e.message }, 'SIGHUP: TLS certificate or key unusable; still serving the previous ones');
      }
    };
    process.on('SIGHUP', reloadTls);
    kernel.logger.info({ address, docs: `${address}/docs`, database: kernel.store.location }, 'sprout server is listening');
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    process.off('SIGHUP', reloadTls);
    await kernel.stop();
    return 0;
  }
}
