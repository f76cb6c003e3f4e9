import { SproutCommand, Command, table, ok } from '@sprout/kernel/cli';

export class TokenListCommand extends SproutCommand {
  static paths = [['token', 'list']];
  static usage = Command.Usage({
    category: 'Access',
    description: 'List API tokens (admin); secrets are never shown',
    examples: [['List', 'sprout token list']],
  });

  async run() {
    const { items } = await ok(this.api().typed.GET('/v1/tokens'));
    this.print(items, () =>
      table(
        ['NAME', 'ROLE', 'CREATED', 'BY', 'EXPIRES', 'LAST USED', 'REVOKED'],
        items.map((t) => [t.name, t.role, t.createdAt, t.createdBy, t.expiresAt, t.lastUsedAt, t.revokedAt]),
      ),
    );
  }
}
