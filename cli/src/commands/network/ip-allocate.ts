import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';

export class IpAllocateCommand extends SproutCommand {
  static paths = [['ip', 'allocate']];
  static usage = Command.Usage({
    category: 'Networks',
    description: 'Allocate an address in a network (operator): the next free one, or --address',
    details:
      'The next free address is the lowest one outside the dynamic and reserved ranges that is not the gateway. With --machine (and --interface), the allocation belongs to that machine; its hostname is the default --hostname.',
    examples: [
      ['The next free address', 'sprout ip allocate prov --hostname bastion'],
      ['A given address for a machine interface', 'sprout ip allocate prov --machine node-01 --interface eth1 --address 198.18.0.20'],
    ],
  });

  network = Option.String({ name: 'network' });
  site = Option.String('--site', { description: 'Site id or name, when the network name exists at several sites' });
  machine = Option.String('--machine', { description: 'Machine id or hostname' });
  iface = Option.String('--interface', { description: 'Interface name or MAC of that machine' });
  hostname = Option.String('--hostname', { description: 'DNS name for the address (default: the machine hostname)' });
  address = Option.String('--address', { description: 'A specific address' });

  async run() {
    const body = {
      ...(this.machine ? { machine: this.machine } : {}),
      ...(this.iface ? { interface: this.iface } : {}),
      ...(this.hostname ? { hostname: this.hostname } : {}),
      ...(this.address ? { address: this.address } : {}),
    };
    const allocation = await ok(
      this.api().typed.POST('/v1/networks/{id}/allocations', { params: { path: { id: this.network }, query: { site: this.site } }, body }),
    );
    this.print(
      allocation,
      () =>
        `allocated ${allocation.address} in network ${this.network}${allocation.hostname ? ` for ${allocation.hostname}` : ''} (id ${allocation.id}, provider ${allocation.provider})`,
    );
  }
}
