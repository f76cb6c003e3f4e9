import { Command, Option } from '@sprout/kernel/cli';
import { WorkflowActionCommand } from './workflow-action.ts';

export class MachineTestCommand extends WorkflowActionCommand {
  static paths = [['machine', 'test']];
  static usage = Command.Usage({ category: 'Machines', description: 'Run hardware tests on a ready (or failed_testing) machine', examples: [['Rerun all', 'sprout machine test node-01 --watch']] });

  readonly action = 'test';
  tests = Option.Array('--test', { description: 'Run only these hardware tests' });

  body() {
    return this.tests ? { hwtest: this.tests } : {};
  }
}
