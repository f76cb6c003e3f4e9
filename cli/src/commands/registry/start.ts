import * as t from 'typanion';
import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import { configOption } from '../config-option.ts';
import { registryDir, registryDirOption } from './data-dir.ts';

export class RegistryStartCommand extends SproutCommand {
  static paths = [['registry', 'start']];
  static usage = Command.Usage({
    category: 'Plugins',
    description: 'Start a local npm registry (Verdaccio) on 127.0.0.1 for publishing and installing plugins',
    details:
      'It runs in the background with its config, storage and log in the registry folder (default <dataDir>/registry). Anyone on this machine may publish to it without an account; it listens on loopback only and has no uplinks, so it never reaches the internet. ' +
      'Publish with `npm publish --registry <url>`, install with `sprout plugin install <package> --registry <url>`.',
    examples: [
      ['Start on port 4873', 'sprout registry start'],
      ['On any free port', 'sprout registry start --port 0 --json'],
    ],
  });

  port = Option.String('--port', '4873', {
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(0, 65535)]),
    description: 'Port on 127.0.0.1 (0: any free port)',
  });
  dataDir = registryDirOption();
  config = configOption();

  async run() {
    const { startRegistry } = await import('../../plugins/local-registry.ts');
    const info = await startRegistry({ dir: await registryDir(this.dataDir, this.config), port: this.port });
    this.print(info, () =>
      [
        `registry running at ${info.url} (pid ${info.pid}), data in ${info.dir}`,
        `publish:  npm publish --registry ${info.url} --${info.npmAuth}`,
        `install:  sprout plugin install <package> --registry ${info.url}`,
      ].join('\n'),
    );
    return 0;
  }
}
