import { SproutCommand, Command, Option, ok, workflowKinds, workflowStates } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { workflowTable } from '../../render/workflow.ts';
import { fetchPages, truncationNotice } from '../../pages.ts';

export class WorkflowListCommand extends SproutCommand {
  static paths = [['workflow', 'list']];
  static usage = Command.Usage({
    category: 'Workflows',
    description: 'List workflows, newest first',
    details: 'With --json the output is `{items, nextCursor}`; a page cut short by --limit is announced on stderr with the --cursor that continues it.',
    examples: [
      ['Of one machine', 'sprout workflow list --machine node-01'],
      ['Waiting ones', 'sprout workflow list --state dispatched'],
      ['The next page', 'sprout workflow list --cursor eyJ…'],
    ],
  });

  machine = Option.String('--machine', { description: 'Machine id, hostname or MAC' });
  site = Option.String('--site', { description: 'Site id or name' });
  kind = Option.String('--kind', { description: `Workflow kind: ${workflowKinds.join(', ')}`, validator: t.isEnum(workflowKinds) });
  state = Option.String('--state', { description: `Workflow state: ${workflowStates.join(', ')}`, validator: t.isEnum(workflowStates) });
  limit = Option.String('--limit', '50', {
    description: 'Workflows per page, newest first (default 50, at most 500)',
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 500)]),
  });
  cursor = Option.String('--cursor', { description: 'Continue a list: the nextCursor of the previous page' });
  all = Option.Boolean('--all', false, { description: 'Follow cursors to the end' });

  async run() {
    const api = this.api().typed;
    const query = { machine: this.machine, site: this.site, kind: this.kind, state: this.state, limit: this.limit };
    const page = await fetchPages((cursor) => ok(api.GET('/v1/workflows', { params: { query: { ...query, cursor } } })), {
      all: this.all,
      cursor: this.cursor,
    });
    this.print(page, () => workflowTable(page.items));
    this.context.stderr.write(truncationNotice(page));
  }
}
