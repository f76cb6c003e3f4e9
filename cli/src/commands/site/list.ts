import { SproutCommand, Command, table, ok } from '@sprout/kernel/cli';

export class SiteListCommand extends SproutCommand {
  static paths = [['site', 'list']];
  static usage = Command.Usage({
    category: 'Sites',
    description: 'List sites and how many of their agents are online',
    examples: [['List', 'sprout site list']],
  });

  async run() {
    const { items } = await ok(this.api().typed.GET('/v1/sites'));
    this.print(items, () =>
      table(
        ['NAME', 'AGENTS ONLINE', 'DESCRIPTION', 'ID'],
        items.map((s) => [s.name, `${s.agents.filter((a) => a.status === 'online').length}/${s.agents.length}`, s.description, s.id]),
      ),
    );
  }
}
