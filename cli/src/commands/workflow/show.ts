import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import { workflowDetails } from '../../render/workflow.ts';

export class WorkflowShowCommand extends SproutCommand {
  static paths = [['workflow', 'show']];
  static usage = Command.Usage({
    category: 'Workflows',
    description: 'Show a workflow step by step, with errors and what it waits for',
    examples: [['Show', 'sprout workflow show 6f1c…']],
  });

  workflow = Option.String({ name: 'workflow-id' });

  async run() {
    const wf = await ok(this.api().typed.GET('/v1/workflows/{id}', { params: { path: { id: this.workflow } } }));
    this.print(wf, () => workflowDetails(wf));
  }
}
