import { SproutCommand, Command } from '@sprout/kernel/cli';
import { configOption } from '../config-option.ts';
import { registryDir, registryDirOption } from './data-dir.ts';

export class RegistryStopCommand extends SproutCommand {
  static paths = [['registry', 'stop']];
  static usage = Command.Usage({
    category: 'Plugins',
    description: 'Stop the local registry; the packages published to it stay for the next start',
    examples: [['Stop', 'sprout registry stop']],
  });

  dataDir = registryDirOption();
  config = configOption();

  async run() {
    const { stopRegistry } = await import('../../plugins/local-registry.ts');
    const dir = await registryDir(this.dataDir, this.config);
    const info = await stopRegistry(dir);
    this.print({ stopped: Boolean(info), dir }, () => (info ? `stopped the registry at ${info.url} (pid ${info.pid})` : `no registry was running from ${dir}`));
    return 0;
  }
}
