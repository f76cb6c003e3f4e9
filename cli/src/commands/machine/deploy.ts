import { Command, FlagInputError, Option, readFlagFile, ok, type SproutClient } from '@sprout/kernel/cli';
import { WorkflowActionCommand, type ActionBody } from './workflow-action.ts';

/** The key lines of the --ssh-key files (a file may hold several, like authorized_keys; blank and # lines are skipped). */
function sshKeyLines(files: string[]): string[] {
  return files.flatMap((file) => {
    const lines = readFlagFile('--ssh-key', file)
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    if (lines.length === 0) throw new FlagInputError('--ssh-key', `${file === '-' ? 'standard input' : file}: no key in it`);
    return lines;
  });
}

export class MachineDeployCommand extends WorkflowActionCommand<ActionBody<'deploy'>> {
  static paths = [['machine', 'deploy']];
  static usage = Command.Usage({
    category: 'Machines',
    description: 'Deploy an image (a ready machine is allocated to you first); it is deployed when the installed OS reports its first boot',
    examples: [
      ['Deploy an image the site agent serves, with your SSH key', 'sprout machine deploy node-01 --image debian-12 --ssh-key ~/.ssh/id_ed25519.pub --watch'],
      [
        'Deploy from a URL with its sum and cloud-init user-data',
        'sprout machine deploy node-01 --image http://images.example/debian-12.raw --image-sha256 9f86d0… --user-data cloud-init.yaml',
      ],
      ['Deploy an image without cloud-init (nothing will report its first boot)', 'sprout machine deploy node-01 --image appliance.raw --no-wait-first-boot'],
      ['Several machines, reported per machine', 'sprout machine deploy node-01 node-02 --image debian-12 --ssh-key ~/.ssh/id_ed25519.pub'],
    ],
  });

  image = Option.String('--image', { required: true, description: "Image name in the site's image store, or an http(s) URL" });
  imageSha256 = Option.String('--image-sha256', { description: 'Expected sha256 of the image (a named image from the agent gets its sum from the agent)' });
  userData = Option.String('--user-data', {
    description: 'File with cloud-init user-data (cloud-config or a script) for the installed system, passed unchanged (- reads standard input)',
  });
  sshKeys = Option.Array('--ssh-key', {
    description: "File of OpenSSH public keys for the installed system's default user (repeatable; - reads standard input)",
  });
  waitFirstBoot = Option.Boolean('--wait-first-boot', true, {
    description: 'Deployed only once the installed OS reports its first boot (cloud-init phone_home); --no-wait-first-boot for images without cloud-init',
  });

  body(): ActionBody<'deploy'> {
    const keys = sshKeyLines(this.sshKeys ?? []);
    return {
      image: this.image,
      ...(this.imageSha256 ? { imageSha256: this.imageSha256 } : {}),
      ...(this.userData ? { userData: readFlagFile('--user-data', this.userData) } : {}),
      ...(keys.length ? { sshKeys: keys } : {}),
      ...(this.waitFirstBoot ? {} : { firstBoot: false }),
    };
  }

  start(api: SproutClient, id: string, body: ActionBody<'deploy'>) {
    return ok(api.POST('/v1/machines/{id}/deploy', { params: { path: { id } }, body }));
  }
}
