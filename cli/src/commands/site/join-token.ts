import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';

export class SiteJoinTokenCommand extends SproutCommand {
  static paths = [['site', 'join-token']];
  static usage = Command.Usage({
    category: 'Sites',
    description: 'Issue a new one-time join token for an agent of the site',
    examples: [['New token', 'sprout site join-token dc1']],
  });

  site = Option.String({ name: 'site' });

  async run() {
    const token = await ok(this.api().typed.POST('/v1/sites/{id}/join-tokens', { params: { path: { id: this.site } } }));
    this.print(token, () => `${token.token}\n(one use, expires ${token.expiresAt})`);
  }
}
