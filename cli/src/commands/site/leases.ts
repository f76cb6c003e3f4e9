import { SproutCommand, Command, Option, table } from '@sprout/kernel/cli';

export class SiteLeasesCommand extends SproutCommand {
  static paths = [['site', 'leases']];
  static usage = Command.Usage({ category: 'Sites', description: "DHCP leases the site's agent reported", examples: [['List', 'sprout site leases fra1']] });

  site = Option.String({ name: 'site' });

  async run() {
    const { items } = await this.api().get<{ items: { mac: string; address: string; state: string; expiresAt: string | null; machine: string | null }[] }>(`v1/sites/${encodeURIComponent(this.site)}/leases`);
    this.print(items, () => table(['ADDRESS', 'MAC', 'MACHINE', 'STATE', 'EXPIRES'], items.map((l) => [l.address, l.mac, l.machine, l.state, l.expiresAt])));
  }
}
