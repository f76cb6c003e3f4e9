import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { followOutput, followWorkflow } from '../../render/workflow.ts';

export class WorkflowWatchCommand extends SproutCommand {
  static paths = [['workflow', 'watch']];
  static usage = Command.Usage({
    category: 'Workflows',
    description: 'Follow a workflow step by step until it ends; exit 1 unless it succeeds',
    examples: [
      ['Watch', 'sprout workflow watch 6f1c…'],
      ['Give up after 10 minutes', 'sprout workflow watch 6f1c… --timeout 600'],
    ],
  });

  workflow = Option.String({ name: 'workflow-id' });
  interval = Option.String('--interval', '1', { validator: t.isNumber(), description: 'Seconds between polls' });
  timeout = Option.String('--timeout', { validator: t.isNumber(), description: 'Seconds before giving up (exit 1)' });

  async run() {
    const out = followOutput(this.context.stdout, this.json);
    const end = await followWorkflow(this.api(), this.workflow, out.write, {
      ticker: out.ticker,
      intervalMs: this.interval * 1000,
      timeoutMs: this.timeout !== undefined ? this.timeout * 1000 : undefined,
    });
    if (this.json) this.print(end, () => '');
    return end.state === 'succeeded' ? 0 : 1;
  }
}
