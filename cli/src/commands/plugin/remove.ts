import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import { configOption, readConfig } from '../config-option.ts';

export class PluginRemoveCommand extends SproutCommand {
  static paths = [['plugin', 'remove']];
  static usage = Command.Usage({
    category: 'Plugins',
    description: 'Uninstall a plugin from the plugin directory and drop its selection from the config file',
    details:
      'Undoes `sprout plugin install`: `npm uninstall --prefix <pluginDir> <package>` and every `capabilities.<id>.use` naming it. Its `plugins.<id>` settings stay. The server forgets it on its next start. Builtin plugins cannot be removed.',
    examples: [['Remove', 'sprout plugin remove @acme/sprout-plugin-burnin']],
  });

  name = Option.String({ name: 'package-or-id' });
  config = configOption();

  async run() {
    const { config, file } = await readConfig(this.config);
    const { removePlugin } = await import('../../plugins/plugin-installer.ts');
    const result = await removePlugin({ name: this.name, config, configFile: file, cwd: process.cwd() });
    this.print(result, () =>
      [
        `removed ${result.packageName} (plugin ${result.id}) from ${result.pluginDir}`,
        ...result.disabled.map((c) => `removed capabilities.${c}.use from ${result.configFile}; ${c} falls back to its default provider`),
        'restart the server to unload it',
      ].join('\n'),
    );
    return 0;
  }
}
