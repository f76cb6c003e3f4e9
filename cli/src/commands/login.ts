import { SproutCommand, Command, Option, ApiClient, writeProfile } from '@sprout/kernel/cli';

export class LoginCommand extends SproutCommand {
  static paths = [['login']];
  static usage = Command.Usage({
    category: 'Access',
    description: 'Check a token against a server and save both as the CLI profile',
    details: 'The profile (mode 0600) is used when SPROUT_URL and SPROUT_TOKEN are not set.',
    examples: [['Log in', 'sprout login --url http://127.0.0.1:7480 --token "$(cat .sprout/admin-token)"']],
  });

  url = Option.String('--url', { required: true });
  token = Option.String('--token', { required: true });

  async run() {
    const who = await new ApiClient({ url: this.url, token: this.token, source: '--url/--token' }).get<{ actor: string; role: string }>('v1/whoami');
    const path = writeProfile({ url: this.url, token: this.token });
    this.print({ ...who, url: this.url, profile: path }, () => `logged in to ${this.url} as ${who.actor} (${who.role}); profile saved in ${path}`);
  }
}
