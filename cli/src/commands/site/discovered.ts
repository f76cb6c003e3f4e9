import { SproutCommand, Command, Option, table, ok } from '@sprout/kernel/cli';

export class SiteDiscoveredCommand extends SproutCommand {
  static paths = [['site', 'discovered']];
  static usage = Command.Usage({
    category: 'Sites',
    description: 'MACs that asked the site for DHCP but belong to no machine',
    examples: [['List', 'sprout site discovered fra1']],
  });

  site = Option.String({ name: 'site' });

  async run() {
    const { items } = await ok(this.api().typed.GET('/v1/sites/{id}/discovered-macs', { params: { path: { id: this.site } } }));
    this.print(items, () =>
      table(
        ['MAC', 'OFFERED', 'SEEN', 'FIRST', 'LAST'],
        items.map((d) => [d.mac, d.offered, d.timesSeen, d.firstSeenAt, d.lastSeenAt]),
      ),
    );
  }
}
