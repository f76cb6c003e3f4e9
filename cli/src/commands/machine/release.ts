import { Command, Option, ok, type SproutClient } from '@sprout/kernel/cli';
import { WorkflowActionCommand, type ActionBody } from './workflow-action.ts';

export class MachineReleaseCommand extends WorkflowActionCommand<ActionBody<'release'>> {
  static paths = [['machine', 'release']];
  static usage = Command.Usage({
    category: 'Machines',
    description: 'Release an allocated or deployed machine → ready: power it off, clear its boot intent and addresses',
    details:
      'With --erase the machine first boots the installer in erase mode, which wipes every disk (blkdiscard where the disk supports it, and the first and last 16 MiB of each disk zeroed: partition tables, GPT backup), reports each disk it wiped (disk, size, method: see `workflow show`, the audit trail) and powers off.',
    examples: [
      ['Release', 'sprout machine release node-01 --watch'],
      ['Wipe the disks first', 'sprout machine release node-01 --erase --watch'],
      ['Every machine tagged rack1', 'sprout machine release --tag rack1'],
    ],
  });

  erase = Option.Boolean('--erase', false, { description: 'Wipe every disk before powering off (the installer boots in erase mode)' });

  body(): ActionBody<'release'> {
    return this.erase ? { erase: true } : {};
  }

  start(api: SproutClient, id: string, body: ActionBody<'release'>) {
    return ok(api.POST('/v1/machines/{id}/release', { params: { path: { id } }, body }));
  }
}
