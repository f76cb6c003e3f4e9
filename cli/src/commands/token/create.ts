import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { configOption, readConfig } from '../config-option.ts';

export class TokenCreateCommand extends SproutCommand {
  static paths = [['token', 'create']];
  static usage = Command.Usage({
    category: 'Access',
    description: 'Create an API token (admin); its secret is printed once',
    details:
      "With `--local` the token is written straight into the database the config in this folder names (sprout.yaml, SPROUT_DATABASE_URL, SPROUT_DATA_DIR), without the API: the way back in when no admin token is left. Run it on the server's machine; on the embedded database stop the server first. It is audited with the actor `local:<os user>`.",
    examples: [
      ['A viewer token', 'sprout token create --role viewer --name dashboard'],
      ['Expiring', 'sprout token create --role operator --name ci --expires 2027-01-01T00:00:00Z'],
      ["Recover admin access on the server's machine", 'sprout token create --role admin --name rescue --local'],
    ],
  });

  role = Option.String('--role', { required: true, description: 'viewer, operator or admin', validator: t.isEnum(['viewer', 'operator', 'admin'] as const) });
  name = Option.String('--name', { description: 'Unique name (default: <role>-<timestamp>)' });
  expires = Option.String('--expires', { description: 'Expiry as an ISO 8601 date-time' });
  local = Option.Boolean('--local', false, { description: "Write the token straight into the server's database (on its machine), not through the API" });
  config = configOption();

  async run() {
    const name = this.name ?? `${this.role}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}`;
    if (this.local) return this.createLocally(name);
    const created = await ok(this.api().typed.POST('/v1/tokens', { body: { name, role: this.role, ...(this.expires ? { expiresAt: this.expires } : {}) } }));
    this.print(
      created,
      () => `created token ${created.token.name} (role ${created.token.role}, id ${created.token.id})\n${created.secret}\nStore it now: it is not shown again.`,
    );
  }

  private async createLocally(name: string) {
    const { SproutError, createTokenLocally } = await import('@sprout/kernel');
    const expiresAt = this.expires === undefined ? null : new Date(this.expires);
    if (expiresAt && Number.isNaN(expiresAt.getTime()))
      throw new SproutError('SPROUT_ERR_VALIDATION', `--expires must be an ISO 8601 date-time, not "${this.expires}"`, {
        details: [{ field: '--expires', message: 'not a date-time' }],
      });
    if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/.test(name))
      throw new SproutError('SPROUT_ERR_VALIDATION', `--name must be letters, digits, . _ @ - (at most 128), starting with a letter or digit`, {
        details: [{ field: '--name', message: 'invalid name' }],
      });
    const { config } = await readConfig(this.config);
    const created = await createTokenLocally(config, { name, role: this.role, expiresAt });
    this.print(
      { token: created.token, secret: created.secret, database: created.database },
      () =>
        `created token ${created.token.name} (role ${created.token.role}, id ${created.token.id}) directly in ${created.database}\n${created.secret}\nStore it now: it is not shown again.`,
    );
  }
}
