import { SproutCommand, Command, table } from '@sprout/kernel/cli';
import { configOption, readConfig } from '../config-option.ts';
import { builtinPlugins } from '../../builtin-plugins.ts';

export class PluginListCommand extends SproutCommand {
  static paths = [['plugin', 'list']];
  static usage = Command.Usage({
    category: 'Plugins',
    description: 'List installed plugins, what they provide and which capabilities they serve',
    details: 'Reads manifests only; no server needed. Problems the server would refuse to start with are listed too.',
    examples: [
      ['List', 'sprout plugin list'],
      ['As JSON', 'sprout plugin list --json'],
    ],
  });

  config = configOption();

  async run() {
    const { config } = await readConfig(this.config);
    const { inspectPlugins } = await import('@sprout/kernel');
    const { plugins, problems } = inspectPlugins(config, builtinPlugins);
    const items = plugins.map(({ dir: _dir, commands: _commands, ...p }) => p);
    this.print({ items, problems }, () => {
      const rows = items.map((p) => [
        p.id,
        p.version,
        p.provides.join(',') || '-',
        p.activeFor.join(',') || (p.active ? '(extension)' : '-'),
        p.builtin ? 'builtin' : 'installed',
        p.packageName,
      ]);
      const out = [table(['ID', 'VERSION', 'PROVIDES', 'ACTIVE FOR', 'SOURCE', 'PACKAGE'], rows)];
      if (problems.length > 0)
        out.push('', 'Problems (the server will refuse to start):', ...problems.map((p) => `  - ${p.field ? `${p.field}: ` : ''}${p.message}`));
      return out.join('\n');
    });
    return problems.length > 0 ? 1 : 0;
  }
}
