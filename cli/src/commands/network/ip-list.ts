import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import { allocationTable } from './render.ts';

export class IpListCommand extends SproutCommand {
  static paths = [['ip', 'list']];
  static usage = Command.Usage({ category: 'Networks', description: 'List the allocated addresses of a network', examples: [['List', 'sprout ip list prov']] });

  network = Option.String({ name: 'network' });
  site = Option.String('--site', { description: 'Site id or name, when the network name exists at several sites' });

  async run() {
    const { items } = await ok(this.api().typed.GET('/v1/networks/{id}/allocations', { params: { path: { id: this.network }, query: { site: this.site } } }));
    this.print(items, () => (items.length === 0 ? `no addresses allocated in ${this.network}` : allocationTable(items)));
  }
}
