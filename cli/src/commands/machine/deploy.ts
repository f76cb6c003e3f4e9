import { readFileSync } from 'node:fs';
import { Command, Option } from '@sprout/kernel/cli';
import { WorkflowActionCommand } from './workflow-action.ts';

export class MachineDeployCommand extends WorkflowActionCommand {
  static paths = [['machine', 'deploy']];
  static usage = Command.Usage({ category: 'Machines', description: 'Deploy an image (a ready machine is allocated to you first)', examples: [['Deploy', 'sprout machine deploy node-01 --image debian-12 --user-data cloud-init.yaml --watch']] });

  readonly action = 'deploy';
  image = Option.String('--image', { required: true });
  userData = Option.String('--user-data', { description: 'File with user data for the installed system' });

  body() {
    return { image: this.image, ...(this.userData ? { userData: readFileSync(this.userData, 'utf8') } : {}) };
  }
}
