import { SproutCommand, Command, Option, workflowKinds, workflowStates } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { workflowTable, type Workflow } from '../../render/workflow.ts';

export class WorkflowListCommand extends SproutCommand {
  static paths = [['workflow', 'list']];
  static usage = Command.Usage({ category: 'Workflows', description: 'List workflows, newest first', examples: [['Of one machine', 'sprout workflow list --machine node-01'], ['Waiting ones', 'sprout workflow list --state dispatched']] });

  machine = Option.String('--machine', { description: 'Machine id, hostname or MAC' });
  site = Option.String('--site', { description: 'Site id or name' });
  kind = Option.String('--kind', { description: `Workflow kind: ${workflowKinds.join(', ')}`, validator: t.isEnum(workflowKinds) });
  state = Option.String('--state', { description: `Workflow state: ${workflowStates.join(', ')}`, validator: t.isEnum(workflowStates) });
  limit = Option.String('--limit', '50', { description: 'At most this many, newest first (default 50, at most 500)', validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 500)]) });

  async run() {
    const { items } = await this.api().get<{ items: Workflow[] }>('v1/workflows', { machine: this.machine, site: this.site, kind: this.kind, state: this.state, limit: this.limit });
    this.print(items, () => workflowTable(items));
    if (items.length === this.limit) this.context.stderr.write(`note: showing the newest ${items.length}; older ones may exist (--limit up to 500, or narrow with --machine, --site, --state)\n`);
  }
}
