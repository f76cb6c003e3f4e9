import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import { networkDetails } from './render.ts';

export class NetworkShowCommand extends SproutCommand {
  static paths = [['network', 'show']];
  static usage = Command.Usage({
    category: 'Networks',
    description: 'Show a network with its utilisation',
    examples: [
      ['By name', 'sprout network show prov'],
      ['A name used at several sites', 'sprout network show prov --site dc1'],
    ],
  });

  network = Option.String({ name: 'id-or-name' });
  site = Option.String('--site', { description: 'Site id or name, when the network name exists at several sites' });

  async run() {
    const network = await ok(this.api().typed.GET('/v1/networks/{id}', { params: { path: { id: this.network }, query: { site: this.site } } }));
    this.print(network, () => networkDetails(network));
  }
}
