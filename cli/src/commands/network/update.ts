import { SproutCommand, Command, Option, FlagInputError, ok } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { rangeFromSpec } from './range-option.ts';

export class NetworkUpdateCommand extends SproutCommand {
  static paths = [['network', 'update']];
  static usage = Command.Usage({
    category: 'Networks',
    description: 'Change a network (operator): name, CIDR, gateway, DNS servers, domain, VLAN, PXE flag, ranges',
    details:
      "Only the flags given change. `--dns` and `--range` replace every DNS server or range (repeat them for several). The result is checked like a new network; a CIDR change is refused while addresses are allocated in the network, and a gateway or range on an allocated address is refused, naming the allocations. The site's agents serve the change without a `site sync`.",
    examples: [
      ['A new domain and DNS servers', 'sprout network update prov --site dc1 --domain dc1.example --dns 198.18.0.2 --dns 198.18.0.3'],
      ['Replace the ranges', 'sprout network update prov --range dynamic:198.18.0.100-198.18.0.199 --range reserved:198.18.0.2-198.18.0.9'],
      ['Stop PXE-booting from it', 'sprout network update storage --no-pxe'],
    ],
  });

  network = Option.String({ name: 'id-or-name' });
  site = Option.String('--site', { description: 'Site id or name, when the network name exists at several sites' });
  name = Option.String('--name', { description: 'New name, unique within the site' });
  cidr = Option.String('--cidr', { description: 'New block; refused while addresses are allocated in it' });
  gateway = Option.String('--gateway', { description: 'New default gateway' });
  dns = Option.Array('--dns', { description: 'DNS server handed to machines; repeatable, replaces them all' });
  clearDns = Option.Boolean('--clear-dns', false, { description: 'Hand out no DNS servers' });
  domain = Option.String('--domain', { description: 'New DNS domain' });
  clearDomain = Option.Boolean('--clear-domain', false, { description: 'Remove the domain' });
  vlan = Option.String('--vlan', { validator: t.isNumber(), description: '1-4094' });
  clearVlan = Option.Boolean('--clear-vlan', false, { description: 'Remove the VLAN' });
  pxe = Option.Boolean('--pxe', { description: 'Machines PXE-boot from this network; --no-pxe for not' });
  range = Option.Array('--range', { description: 'KIND:START-END, KIND dynamic or reserved; repeatable, replaces them all' });
  clearRanges = Option.Boolean('--clear-ranges', false, { description: 'Remove every range' });

  async run() {
    for (const [flag, given, clear] of [
      ['--dns', this.dns, this.clearDns],
      ['--domain', this.domain, this.clearDomain],
      ['--vlan', this.vlan, this.clearVlan],
      ['--range', this.range, this.clearRanges],
    ] as const) {
      if (given !== undefined && clear) throw new FlagInputError(flag, `and its --clear-… flag contradict each other; give one`);
    }
    const ranges = this.range?.map(rangeFromSpec);
    const body = {
      ...(this.name !== undefined ? { name: this.name } : {}),
      ...(this.cidr !== undefined ? { cidr: this.cidr } : {}),
      ...(this.gateway !== undefined ? { gateway: this.gateway } : {}),
      ...(this.dns !== undefined ? { dnsServers: this.dns } : this.clearDns ? { dnsServers: [] } : {}),
      ...(this.domain !== undefined ? { domain: this.domain } : this.clearDomain ? { domain: null } : {}),
      ...(this.vlan !== undefined ? { vlan: this.vlan } : this.clearVlan ? { vlan: null } : {}),
      ...(this.pxe !== undefined ? { pxe: this.pxe } : {}),
      ...(ranges !== undefined ? { ranges } : this.clearRanges ? { ranges: [] } : {}),
    };
    if (Object.keys(body).length === 0)
      throw new FlagInputError(
        '--name, --cidr, --gateway, --dns, --domain, --vlan, --pxe/--no-pxe, --range, --clear-…',
        'nothing to change: give at least one of these flags',
      );
    const network = await ok(this.api().typed.PATCH('/v1/networks/{id}', { params: { path: { id: this.network }, query: { site: this.site } }, body }));
    this.print(
      network,
      () =>
        `updated network ${network.name} at site ${network.site.name}: ${network.cidr} via ${network.gateway}${network.pxe ? ', PXE' : ''}${network.domain ? `, domain ${network.domain}` : ''} (id ${network.id})`,
    );
  }
}
