import { SproutCommand, Command, Option, ApiError, isIpv4 } from '@sprout/kernel/cli';
import type { Allocation } from './render.ts';

export class IpReleaseCommand extends SproutCommand {
  static paths = [['ip', 'release']];
  static usage = Command.Usage({
    category: 'Networks',
    description: 'Release an allocation (operator), by its id or its address',
    examples: [['By id', 'sprout ip release prov 3b0c…'], ['By address', 'sprout ip release prov 198.18.0.20']],
  });

  network = Option.String({ name: 'network' });
  allocation = Option.String({ name: 'allocation-id-or-address' });
  site = Option.String('--site', { description: 'Site id or name, when the network name exists at several sites' });

  async run() {
    const api = this.api();
    const network = encodeURIComponent(this.network);
    const site = this.site ? `?site=${encodeURIComponent(this.site)}` : '';
    let id = this.allocation;
    if (isIpv4(this.allocation)) {
      const { items } = await api.get<{ items: Allocation[] }>(`v1/networks/${network}/allocations`, { site: this.site });
      const held = items.find((a) => a.address === this.allocation);
      if (!held) throw new ApiError(404, { code: 'SPROUT_ERR_NOT_FOUND', detail: `${this.allocation} is not allocated in network ${this.network}` });
      id = held.id;
    }
    const released = await api.delete<Allocation>(`v1/networks/${network}/allocations/${encodeURIComponent(id)}${site}`);
    this.print(released, () => `released ${released.address} from network ${this.network} (id ${released.id})`);
  }
}
