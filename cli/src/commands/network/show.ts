import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import { networkDetails, type Network } from './render.ts';

export class NetworkShowCommand extends SproutCommand {
  static paths = [['network', 'show']];
  static usage = Command.Usage({
    category: 'Networks',
    description: 'Show a network with its utilisation',
    examples: [['By name', 'sprout network show prov'], ['A name used at several sites', 'sprout network show prov --site dc1']],
  });

  network = Option.String({ name: 'id-or-name' });
  site = Option.String('--site', { description: 'Site id or name, when the network name exists at several sites' });

  async run() {
    const network = await this.api().get<Network>(`v1/networks/${encodeURIComponent(this.network)}`, { site: this.site });
    this.print(network, () => networkDetails(network));
  }
}
