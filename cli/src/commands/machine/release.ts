import { Command } from '@sprout/kernel/cli';
import { WorkflowActionCommand } from './workflow-action.ts';

export class MachineReleaseCommand extends WorkflowActionCommand {
  static paths = [['machine', 'release']];
  static usage = Command.Usage({ category: 'Machines', description: 'Release an allocated or deployed machine → ready', examples: [['Release', 'sprout machine release node-01 --watch']] });

  readonly action = 'release';

  body() {
    return {};
  }
}
