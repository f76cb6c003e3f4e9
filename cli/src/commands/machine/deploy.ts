import { Command, Option, readFlagFile } from '@sprout/kernel/cli';
import { WorkflowActionCommand } from './workflow-action.ts';

export class MachineDeployCommand extends WorkflowActionCommand {
  static paths = [['machine', 'deploy']];
  static usage = Command.Usage({ category: 'Machines', description: 'Deploy an image (a ready machine is allocated to you first)', examples: [['Deploy an image the site agent serves', 'sprout machine deploy node-01 --image debian-12.raw --watch'], ['Deploy from a URL with its sum', 'sprout machine deploy node-01 --image http://images.example/debian-12.raw --image-sha256 9f86d0… --user-data cloud-init.yaml']] });

  readonly action = 'deploy';
  image = Option.String('--image', { required: true });
  imageSha256 = Option.String('--image-sha256', { description: 'Expected sha256 of the image (a named image from the agent gets its sum from the agent)' });
  userData = Option.String('--user-data', { description: 'File with user data for the installed system (- reads standard input)' });

  body() {
    return { image: this.image, ...(this.imageSha256 ? { imageSha256: this.imageSha256 } : {}), ...(this.userData ? { userData: readFlagFile('--user-data', this.userData) } : {}) };
  }
}
