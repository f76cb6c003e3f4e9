import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import { networkTable } from './render.ts';

export class NetworkListCommand extends SproutCommand {
  static paths = [['network', 'list']];
  static usage = Command.Usage({
    category: 'Networks',
    description: 'List networks, optionally of one site',
    examples: [
      ['All', 'sprout network list'],
      ['One site', 'sprout network list --site dc1'],
    ],
  });

  site = Option.String('--site', { description: 'Site id or name' });

  async run() {
    const { items } = await ok(this.api().typed.GET('/v1/networks', { params: { query: { site: this.site } } }));
    this.print(items, () => (items.length === 0 ? 'no networks' : networkTable(items)));
  }
}
