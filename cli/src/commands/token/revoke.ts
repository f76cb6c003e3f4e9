import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';

export class TokenRevokeCommand extends SproutCommand {
  static paths = [['token', 'revoke']];
  static usage = Command.Usage({
    category: 'Access',
    description: 'Revoke an API token by name or id (admin)',
    examples: [['Revoke', 'sprout token revoke dashboard']],
  });

  token = Option.String({ name: 'name-or-id' });

  async run() {
    const revoked = await ok(this.api().typed.DELETE('/v1/tokens/{id}', { params: { path: { id: this.token } } }));
    this.print(revoked, () => `revoked token ${revoked.name} at ${revoked.revokedAt}`);
  }
}
