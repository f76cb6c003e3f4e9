import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import { networkTable, type Network } from './render.ts';

export class NetworkListCommand extends SproutCommand {
  static paths = [['network', 'list']];
  static usage = Command.Usage({ category: 'Networks', description: 'List networks, optionally of one site', examples: [['All', 'sprout network list'], ['One site', 'sprout network list --site dc1']] });

  site = Option.String('--site', { description: 'Site id or name' });

  async run() {
    const { items } = await this.api().get<{ items: Network[] }>('v1/networks', { site: this.site });
    this.print(items, () => (items.length === 0 ? 'no networks' : networkTable(items)));
  }
}
