import { SproutCommand, Command } from '@sprout/kernel/cli';
import { configOption, readConfig } from '../config-option.ts';
import { builtinPlugins } from '../../builtin-plugins.ts';

export class ConfigShowCommand extends SproutCommand {
  static paths = [['config', 'show']];
  static usage = Command.Usage({
    category: 'Control plane',
    description: 'Print the effective configuration, secrets masked',
    details:
      "Defaults, then the config file, then SPROUT_* environment variables (the kernel's, and those plugins declare for their settings, e.g. SPROUT_NATS_URL). An invalid config is reported with every bad key.",
    examples: [
      ['Show it', 'sprout config show'],
      ['As JSON', 'sprout config show --json'],
    ],
  });

  config = configOption();

  async run() {
    const { config, file } = await readConfig(this.config);
    const { maskSecrets, inspectPlugins } = await import('@sprout/kernel');
    const { stringify } = await import('yaml');
    const masked = maskSecrets(inspectPlugins(config, builtinPlugins).config);
    this.print({ file, config: masked }, () => `# ${file ?? 'no config file: defaults and environment'}\n${stringify(masked).trimEnd()}`);
  }
}
