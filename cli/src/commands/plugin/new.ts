import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import { scaffoldCapabilities } from '../../plugins/plugin-templates.ts';

export class PluginNewCommand extends SproutCommand {
  static paths = [['plugin', 'new']];
  static usage = Command.Usage({
    category: 'Plugins',
    description: 'Scaffold a plugin package: manifest, entry, a CLI command, tests and README',
    details:
      `The package provides one capability (--capability: ${scaffoldCapabilities.join(', ')}; none makes an extension), contributes a report route and a \`sprout <id> report\` command, and tests itself against a real kernel (with the capability's shared contract suite where the kernel has one). ` +
      'It is linked to this Sprout installation (node_modules/@sprout/kernel, @sprout/cli, typebox, ava and tsx are symlinks), so `npm test` inside it works without installing anything. The plugin id is the package name without scope and `sprout-plugin-` prefix. See docs/plugins.md.',
    examples: [
      ['A hardware test', 'sprout plugin new @acme/sprout-plugin-burnin --capability hwtest'],
      ['An extension in a chosen folder', 'sprout plugin new audit-mirror --dir ./plugins/audit-mirror'],
    ],
  });

  name = Option.String({ name: 'name' });
  capability = Option.String('--capability', 'none', { description: `Capability to provide: ${scaffoldCapabilities.join(', ')}` });
  dir = Option.String('--dir', { description: 'Folder to create (default ./<package name without scope>)' });

  async run() {
    const { scaffoldPlugin } = await import('../../plugins/scaffold.ts');
    const made = scaffoldPlugin({ name: this.name, capability: this.capability as never, dir: this.dir, cwd: process.cwd() });
    this.print(made, () =>
      [
        `created ${made.packageName} (plugin id ${made.id}, ${made.capability === 'none' ? 'an extension' : `provides ${made.capability}`}) in ${made.dir}:`,
        ...made.files.map((f) => `  ${f}`),
        `linked from this installation: ${made.linked.join(', ') || 'nothing'}${made.missing.length ? `; not found here (npm install -D them): ${made.missing.join(', ')}` : ''}`,
        '',
        `next: cd ${made.dir} && npm test`,
        `      npm publish --registry <url>   (sprout registry start runs one)`,
        `      sprout plugin install ${made.packageName} --registry <url>`,
      ].join('\n'),
    );
    return 0;
  }
}
