import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import { configOption, readConfig } from '../config-option.ts';

export class PluginInstallCommand extends SproutCommand {
  static paths = [['plugin', 'install']];
  static usage = Command.Usage({
    category: 'Plugins',
    description: 'Install a plugin package into the plugin directory with npm and check it as boot would',
    details:
      'Runs `npm install --prefix <pluginDir> <package>` (peer dependencies are not installed: @sprout/kernel and typebox come from this Sprout), then checks the manifest, the kernel API range, capabilities, the entry and the plugin config. ' +
      'A package that fails is removed again and refused with every reason. --enable records `capabilities.<id>.use` in the config file for a capability that takes one provider (a hardware test or an extension is active as soon as it is installed). ' +
      'The server picks the plugin up on its next start. To a loopback registry (`sprout registry start`) no account is needed.',
    examples: [
      ['From the local registry', 'sprout plugin install @acme/sprout-plugin-burnin --registry http://127.0.0.1:4873'],
      ['And make it the IPAM', 'sprout plugin install @acme/sprout-plugin-ipam --enable'],
    ],
  });

  spec = Option.String({ name: 'package' });
  registry = Option.String('--registry', { description: "npm registry URL (default: npm's own configuration)" });
  enable = Option.Boolean('--enable', false, { description: 'Select it in the config file for the capability it provides, where one provider is chosen' });
  config = configOption();

  async run() {
    const { config, file } = await readConfig(this.config);
    const { installPlugin } = await import('../../plugins/plugin-installer.ts');
    const result = await installPlugin({ spec: this.spec, registry: this.registry, enable: this.enable, config, configFile: file, cwd: process.cwd() });
    this.print(result, () =>
      [
        `installed ${result.packageName}@${result.version} (plugin ${result.id}${result.provides.length ? `, provides ${result.provides.join(', ')}` : ', an extension'}) into ${result.pluginDir}`,
        ...result.enabled.map((c) => `selected it for ${c} in ${result.configFile} (capabilities.${c}.use: ${result.id})`),
        ...result.needsChoice.map((c) => `not active for ${c} until selected: capabilities.${c}.use: ${result.id} (or install with --enable)`),
        'restart the server to load it',
      ].join('\n'),
    );
    return 0;
  }
}
