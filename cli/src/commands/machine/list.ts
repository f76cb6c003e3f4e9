import { SproutCommand, Command, Option, machineStatuses, ok } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { machineTable } from '../../render/machine.ts';
import { fetchPages, truncationNotice } from '../../pages.ts';

export class MachineListCommand extends SproutCommand {
  static paths = [['machine', 'list']];
  static usage = Command.Usage({
    category: 'Machines',
    description: 'List machines, with the reason for any failure',
    details: 'With --json the output is `{items, nextCursor}`; a page cut short by --limit is announced on stderr with the --cursor that continues it.',
    examples: [
      ['Failed ones at a site', 'sprout machine list --site dc1 --status failed_deployment'],
      ['The next page', 'sprout machine list --cursor eyJ…'],
    ],
  });

  site = Option.String('--site', { description: 'Site id or name' });
  status = Option.String('--status', { description: `Machine status: ${machineStatuses.join(', ')}`, validator: t.isEnum(machineStatuses) });
  tag = Option.String('--tag', { description: 'Only machines with this tag' });
  limit = Option.String('--limit', '100', { description: 'Machines per page (default 100, at most 1000)', validator: t.isNumber() });
  cursor = Option.String('--cursor', { description: 'Continue a list: the nextCursor of the previous page' });
  all = Option.Boolean('--all', false, { description: 'Follow cursors to the end' });

  async run() {
    const api = this.api().typed;
    const query = { site: this.site, status: this.status, tag: this.tag, limit: this.limit };
    const page = await fetchPages((cursor) => ok(api.GET('/v1/machines', { params: { query: { ...query, cursor } } })), { all: this.all, cursor: this.cursor });
    this.print(page, () => machineTable(page.items));
    this.context.stderr.write(truncationNotice(page));
  }
}
