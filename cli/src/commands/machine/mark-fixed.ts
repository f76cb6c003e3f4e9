import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import { machineDetails } from '../../render/machine.ts';

export class MachineMarkFixedCommand extends SproutCommand {
  static paths = [['machine', 'mark-fixed']];
  static usage = Command.Usage({
    category: 'Machines',
    description: 'Mark a broken machine fixed (ready if commissioned, else new)',
    examples: [['Fixed', 'sprout machine mark-fixed node-01']],
  });

  machine = Option.String({ name: 'machine' });

  async run() {
    const machine = await ok(this.api().typed.POST('/v1/machines/{id}/mark-fixed', { params: { path: { id: this.machine } } }));
    this.print(machine, () => machineDetails(machine));
  }
}
