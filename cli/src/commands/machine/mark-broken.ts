import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import { machineDetails } from '../../render/machine.ts';

export class MachineMarkBrokenCommand extends SproutCommand {
  static paths = [['machine', 'mark-broken']];
  static usage = Command.Usage({
    category: 'Machines',
    description: 'Mark a machine broken, with the reason others will see',
    examples: [['Broken', 'sprout machine mark-broken node-01 --reason "PSU failed"']],
  });

  machine = Option.String({ name: 'machine' });
  reason = Option.String('--reason', { required: true, description: 'Why, shown by machine show' });

  async run() {
    const machine = await ok(this.api().typed.POST('/v1/machines/{id}/mark-broken', { params: { path: { id: this.machine } }, body: { reason: this.reason } }));
    this.print(machine, () => machineDetails(machine));
  }
}
