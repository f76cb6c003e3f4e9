import { SproutCommand, Command } from '@sprout/kernel/cli';
import { configOption } from '../config-option.ts';
import { registryDir, registryDirOption } from './data-dir.ts';

export class RegistryStatusCommand extends SproutCommand {
  static paths = [['registry', 'status']];
  static usage = Command.Usage({
    category: 'Plugins',
    description: 'Show the local registry: its URL and folder (exit 1 when none runs)',
    examples: [
      ['Status', 'sprout registry status'],
      ['Its URL for npm', 'npm publish --registry "$(sprout registry status --json | jq -r .url)"'],
    ],
  });

  dataDir = registryDirOption();
  config = configOption();

  async run() {
    const { readRegistryState } = await import('../../plugins/local-registry.ts');
    const { SproutError } = await import('@sprout/kernel');
    const dir = await registryDir(this.dataDir, this.config);
    const info = readRegistryState(dir);
    if (!info) throw new SproutError('SPROUT_ERR_NOT_FOUND', `no registry is running from ${dir}; start one with \`sprout registry start\``);
    this.print(info, () => `registry running at ${info.url} (pid ${info.pid}, since ${info.startedAt}), data in ${info.dir}`);
    return 0;
  }
}
