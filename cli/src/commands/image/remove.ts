import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { settleRequest } from './wait-request.ts';

/** `sprout image remove NAME --site S`: the site's agent deletes it; refused while a running deploy uses it. */
export class ImageRemoveCommand extends SproutCommand {
  static paths = [['image', 'remove']];
  static usage = Command.Usage({
    category: 'Images',
    description: "Remove an image from a site's image store (refused while a running deploy uses it)",
    examples: [['Remove', 'sprout image remove debian-11.raw --site fra1']],
  });

  name = Option.String({ name: 'NAME' });
  site = Option.String('--site', { required: true, description: 'The site whose agent keeps the image' });
  wait = Option.Boolean('--wait', true, { description: 'Wait until the agent removed it (--no-wait: print the pending request)' });
  timeout = Option.String('--timeout', '300', { validator: t.isNumber(), description: 'Seconds to wait for the agent' });

  async run() {
    const started = await ok(this.api().typed.DELETE('/v1/sites/{id}/images/{name}', { params: { path: { id: this.site, name: this.name } } }));
    return settleRequest(this, started, { wait: this.wait, timeoutSeconds: this.timeout as unknown as number });
  }
}
