import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import { workflowDetails } from '../../render/workflow.ts';

export class WorkflowCancelCommand extends SproutCommand {
  static paths = [['workflow', 'cancel']];
  static usage = Command.Usage({
    category: 'Workflows',
    description: 'Cancel a workflow at its next step boundary; its machine returns to where it started',
    examples: [['Cancel', 'sprout workflow cancel 6f1c…']],
  });

  workflow = Option.String({ name: 'workflow-id' });

  async run() {
    const wf = await ok(this.api().typed.POST('/v1/workflows/{id}/cancel', { params: { path: { id: this.workflow } } }));
    this.print(wf, () => workflowDetails(wf));
  }
}
