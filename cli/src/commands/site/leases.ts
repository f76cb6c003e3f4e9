import { SproutCommand, Command, Option, table, ok } from '@sprout/kernel/cli';

export class SiteLeasesCommand extends SproutCommand {
  static paths = [['site', 'leases']];
  static usage = Command.Usage({ category: 'Sites', description: "DHCP leases the site's agent reported", examples: [['List', 'sprout site leases fra1']] });

  site = Option.String({ name: 'site' });

  async run() {
    const { items } = await ok(this.api().typed.GET('/v1/sites/{id}/leases', { params: { path: { id: this.site } } }));
    this.print(items, () =>
      table(
        ['ADDRESS', 'MAC', 'MACHINE', 'STATE', 'EXPIRES'],
        items.map((l) => [l.address, l.mac, l.machine, l.state, l.expiresAt]),
      ),
    );
  }
}
