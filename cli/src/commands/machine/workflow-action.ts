/**
 * The shape shared by commands that start a workflow on a machine (commission, test,
 * deploy, release): post the action, print the workflow, and with --watch follow it
 * step by step, exiting non-zero unless it succeeds.
 */
import { SproutCommand, Option } from '@sprout/kernel/cli';
import { followWorkflow, workflowDetails, type Workflow } from '../../render/workflow.ts';

export abstract class WorkflowActionCommand extends SproutCommand {
  machine = Option.String({ name: 'machine' });
  watch = Option.Boolean('--watch', false, { description: 'Follow the workflow until it ends; exit 1 unless it succeeds' });

  abstract readonly action: string;
  abstract body(): Record<string, unknown>;

  async run() {
    const api = this.api();
    const started = await api.post<Workflow>(`v1/machines/${encodeURIComponent(this.machine)}/${this.action}`, this.body());
    if (!this.watch) {
      this.print(started, () => workflowDetails(started));
      return 0;
    }
    if (!this.json) this.context.stdout.write(`${started.kind} of ${started.machine?.hostname} started: workflow ${started.id}\n`);
    const end = await followWorkflow(api, started.id, (line) => !this.json && this.context.stdout.write(`${line}\n`));
    if (this.json) this.print(end, () => '');
    return end.state === 'succeeded' ? 0 : 1;
  }
}
