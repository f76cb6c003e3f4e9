import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import { workflowDetails, type Workflow } from '../../render/workflow.ts';

export class WorkflowCancelCommand extends SproutCommand {
  static paths = [['workflow', 'cancel']];
  static usage = Command.Usage({ category: 'Workflows', description: 'Cancel a workflow at its next step boundary; its machine returns to where it started', examples: [['Cancel', 'sprout workflow cancel 6f1c…']] });

  workflow = Option.String({ name: 'workflow-id' });

  async run() {
    const wf = await this.api().post<Workflow>(`v1/workflows/${encodeURIComponent(this.workflow)}/cancel`);
    this.print(wf, () => workflowDetails(wf));
  }
}
