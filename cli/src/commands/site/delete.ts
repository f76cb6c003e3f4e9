import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';

export class SiteDeleteCommand extends SproutCommand {
  static paths = [['site', 'delete']];
  static usage = Command.Usage({
    category: 'Sites',
    description: 'Delete a site with no machines or networks left',
    examples: [['Delete', 'sprout site delete dc1']],
  });

  site = Option.String({ name: 'site' });

  async run() {
    await ok(this.api().typed.DELETE('/v1/sites/{id}', { params: { path: { id: this.site } } }));
    this.print({ deleted: this.site }, () => `deleted site ${this.site}`);
  }
}
