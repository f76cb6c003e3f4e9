import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { rangesFrom } from './range-option.ts';

export class NetworkCreateCommand extends SproutCommand {
  static paths = [['network', 'create']];
  static usage = Command.Usage({
    category: 'Networks',
    description: 'Create a provisioning network at a site (operator)',
    details:
      'The CIDR may not overlap another network of the site. Dynamic ranges are handed out by DHCP to unknown clients; reserved ranges are never handed out by Sprout. Machines get addresses outside both. A site boots machines from its PXE network (`--pxe`, the default).',
    examples: [
      [
        'A PXE network with a DHCP pool',
        'sprout network create --site dc1 --name prov --cidr 198.18.0.0/24 --gateway 198.18.0.1 --dns 198.18.0.2 --domain dc1.example --dynamic 198.18.0.100-198.18.0.199',
      ],
      [
        'A storage VLAN nobody boots from',
        'sprout network create --site dc1 --name storage --cidr 198.18.8.0/22 --gateway 198.18.8.1 --vlan 40 --no-pxe --reserved 198.18.8.2-198.18.8.50',
      ],
    ],
  });

  site = Option.String('--site', { required: true, description: 'Site id or name' });
  name = Option.String('--name', { required: true, description: 'Unique within the site' });
  cidr = Option.String('--cidr', { required: true, description: 'e.g. 198.18.0.0/24' });
  gateway = Option.String('--gateway', { required: true, description: 'Default gateway handed to machines' });
  dns = Option.Array('--dns', [], { description: 'DNS server handed to machines; repeatable' });
  domain = Option.String('--domain', { description: 'DNS domain of the machines on this network' });
  vlan = Option.String('--vlan', { validator: t.isNumber(), description: '1-4094' });
  pxe = Option.Boolean('--pxe', { description: 'Machines PXE-boot from this network (default); --no-pxe for others' });
  dynamic = Option.Array('--dynamic', [], { description: 'START-END handed out by DHCP; repeatable' });
  reserved = Option.Array('--reserved', [], { description: 'START-END Sprout never hands out; repeatable' });

  async run() {
    const ranges = [...rangesFrom('dynamic', this.dynamic), ...rangesFrom('reserved', this.reserved)];
    const body = {
      site: this.site,
      name: this.name,
      cidr: this.cidr,
      gateway: this.gateway,
      ...(this.dns.length ? { dnsServers: this.dns } : {}),
      ...(this.domain ? { domain: this.domain } : {}),
      ...(this.vlan !== undefined ? { vlan: this.vlan } : {}),
      ...(this.pxe !== undefined ? { pxe: this.pxe } : {}),
      ...(ranges.length ? { ranges } : {}),
    };
    const network = await ok(this.api().typed.POST('/v1/networks', { body }));
    this.print(
      network,
      () =>
        `created network ${network.name} at site ${network.site.name}: ${network.cidr} via ${network.gateway}${network.pxe ? ', PXE' : ''} (id ${network.id})`,
    );
  }
}
