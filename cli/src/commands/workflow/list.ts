import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import { workflowTable, type Workflow } from '../../render/workflow.ts';

export class WorkflowListCommand extends SproutCommand {
  static paths = [['workflow', 'list']];
  static usage = Command.Usage({ category: 'Workflows', description: 'List workflows, newest first', examples: [['Of one machine', 'sprout workflow list --machine node-01'], ['Waiting ones', 'sprout workflow list --state dispatched']] });

  machine = Option.String('--machine');
  site = Option.String('--site');
  kind = Option.String('--kind');
  state = Option.String('--state');

  async run() {
    const { items } = await this.api().get<{ items: Workflow[] }>('v1/workflows', { machine: this.machine, site: this.site, kind: this.kind, state: this.state });
    this.print(items, () => workflowTable(items));
  }
}
