import { SproutCommand, Command, Option } from '@sprout/kernel/cli';

export class SiteJoinTokenCommand extends SproutCommand {
  static paths = [['site', 'join-token']];
  static usage = Command.Usage({ category: 'Sites', description: 'Issue a new one-time join token for an agent of the site', examples: [['New token', 'sprout site join-token dc1']] });

  site = Option.String({ name: 'site' });

  async run() {
    const token = await this.api().post<{ token: string; expiresAt: string }>(`v1/sites/${encodeURIComponent(this.site)}/join-tokens`);
    this.print(token, () => `${token.token}\n(one use, expires ${token.expiresAt})`);
  }
}
