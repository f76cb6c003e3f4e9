import { SproutCommand, Command, Option, ApiError, isIpv4, ok } from '@sprout/kernel/cli';

export class IpReleaseCommand extends SproutCommand {
  static paths = [['ip', 'release']];
  static usage = Command.Usage({
    category: 'Networks',
    description: 'Release an allocation (operator), by its id or its address',
    examples: [
      ['By id', 'sprout ip release prov 3b0c…'],
      ['By address', 'sprout ip release prov 198.18.0.20'],
    ],
  });

  network = Option.String({ name: 'network' });
  allocation = Option.String({ name: 'allocation-id-or-address' });
  site = Option.String('--site', { description: 'Site id or name, when the network name exists at several sites' });

  async run() {
    const api = this.api().typed;
    const params = { path: { id: this.network }, query: { site: this.site } };
    let id = this.allocation;
    if (isIpv4(this.allocation)) {
      const { items } = await ok(api.GET('/v1/networks/{id}/allocations', { params }));
      const held = items.find((a) => a.address === this.allocation);
      if (!held) throw new ApiError(404, { code: 'SPROUT_ERR_NOT_FOUND', detail: `${this.allocation} is not allocated in network ${this.network}` });
      id = held.id;
    }
    const released = await ok(
      api.DELETE('/v1/networks/{id}/allocations/{allocationId}', { params: { ...params, path: { ...params.path, allocationId: id } } }),
    );
    this.print(released, () => `released ${released.address} from network ${this.network} (id ${released.id})`);
  }
}
