import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import * as t from 'typanion';

interface Created {
  token: { id: string; name: string; role: string; expiresAt: string | null };
  secret: string;
}

export class TokenCreateCommand extends SproutCommand {
  static paths = [['token', 'create']];
  static usage = Command.Usage({
    category: 'Access',
    description: 'Create an API token (admin); its secret is printed once',
    examples: [['A viewer token', 'sprout token create --role viewer --name dashboard'], ['Expiring', 'sprout token create --role operator --name ci --expires 2027-01-01T00:00:00Z']],
  });

  role = Option.String('--role', { required: true, description: 'viewer, operator or admin', validator: t.isEnum(['viewer', 'operator', 'admin']) });
  name = Option.String('--name', { description: 'Unique name (default: <role>-<timestamp>)' });
  expires = Option.String('--expires', { description: 'Expiry as an ISO 8601 date-time' });

  async run() {
    const name = this.name ?? `${this.role}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}`;
    const created = await this.api().post<Created>('v1/tokens', { name, role: this.role, ...(this.expires ? { expiresAt: this.expires } : {}) });
    this.print(created, () => `created token ${created.token.name} (role ${created.token.role}, id ${created.token.id})\n${created.secret}\nStore it now: it is not shown again.`);
  }
}
