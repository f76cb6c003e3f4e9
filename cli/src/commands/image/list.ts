import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import { imageTable } from '../../render/image.ts';

/** `sprout image list [--site S]`: what each site's agent holds in its image store. */
export class ImageListCommand extends SproutCommand {
  static paths = [['image', 'list']];
  static usage = Command.Usage({
    category: 'Images',
    description: "The images each site's agent holds (images/ under its artifactRoot), as its heartbeats report them",
    details: 'SHA256 shows "(computing)" while the agent computes the sum of a file just copied in. SEEN is when the agent last reported it.',
    examples: [
      ['Every site', 'sprout image list'],
      ['One site', 'sprout image list --site fra1'],
    ],
  });

  site = Option.String('--site', { description: 'Only this site (name or id)' });

  async run() {
    const { items } = await ok(this.api().typed.GET('/v1/images', { params: { query: { site: this.site } } }));
    this.print(items, () => imageTable(items));
  }
}
