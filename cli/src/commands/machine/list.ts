import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { machineTable, type Machine } from '../../render/machine.ts';

export class MachineListCommand extends SproutCommand {
  static paths = [['machine', 'list']];
  static usage = Command.Usage({ category: 'Machines', description: 'List machines, with the reason for any failure', examples: [['Failed ones at a site', 'sprout machine list --site dc1 --status failed_deployment']] });

  site = Option.String('--site');
  status = Option.String('--status');
  tag = Option.String('--tag');
  limit = Option.String('--limit', '100', { validator: t.isNumber() });
  all = Option.Boolean('--all', false, { description: 'Follow cursors to the end' });

  async run() {
    const items: Machine[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.api().get<{ items: Machine[]; nextCursor: string | null }>('v1/machines', { site: this.site, status: this.status, tag: this.tag, limit: this.limit, cursor });
      items.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (this.all && cursor);
    this.print(items, () => machineTable(items));
  }
}
