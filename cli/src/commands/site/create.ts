import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';

export class SiteCreateCommand extends SproutCommand {
  static paths = [['site', 'create']];
  static usage = Command.Usage({
    category: 'Sites',
    description: 'Register a site; prints the one-time join token for its agent',
    examples: [['A site', 'sprout site create dc1 --description "Frankfurt hall 2" --label region=eu']],
  });

  name = Option.String({ name: 'name' });
  description = Option.String('--description', { description: 'Free text shown by site show' });
  labels = Option.Array('--label', [], { description: 'key=value, repeatable' });

  async run() {
    const labels = Object.fromEntries(
      this.labels.map((l) => {
        const at = l.indexOf('=');
        if (at < 1) throw new Error(`--label ${l}: expected key=value`);
        return [l.slice(0, at), l.slice(at + 1)];
      }),
    );
    const created = await ok(
      this.api().typed.POST('/v1/sites', {
        body: {
          name: this.name,
          ...(this.description ? { description: this.description } : {}),
          ...(this.labels.length ? { labels } : {}),
        },
      }),
    );
    this.print(
      created,
      () => `created site ${created.site.name} (${created.site.id})\njoin token (one use, expires ${created.joinToken.expiresAt}):\n${created.joinToken.token}`,
    );
  }
}
