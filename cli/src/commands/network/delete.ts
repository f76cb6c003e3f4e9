import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';

export class NetworkDeleteCommand extends SproutCommand {
  static paths = [['network', 'delete']];
  static usage = Command.Usage({
    category: 'Networks',
    description: 'Delete a network (operator); refused while addresses are allocated in it',
    details:
      "The refusal names the allocations (address and hostname); release them first (`sprout machine release`, `sprout ip release`). The network's DHCP reservations go with it, and the site's agents stop serving it without a `site sync`.",
    examples: [['By name', 'sprout network delete prov --site dc1']],
  });

  network = Option.String({ name: 'id-or-name' });
  site = Option.String('--site', { description: 'Site id or name, when the network name exists at several sites' });

  async run() {
    await ok(this.api().typed.DELETE('/v1/networks/{id}', { params: { path: { id: this.network }, query: { site: this.site } } }));
    this.print(
      { deleted: this.network, ...(this.site ? { site: this.site } : {}) },
      () => `deleted network ${this.network}${this.site ? ` at site ${this.site}` : ''}`,
    );
  }
}
