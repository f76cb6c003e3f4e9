import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import { machineDetails, type Machine } from '../../render/machine.ts';

export class MachineMarkFixedCommand extends SproutCommand {
  static paths = [['machine', 'mark-fixed']];
  static usage = Command.Usage({ category: 'Machines', description: 'Mark a broken machine fixed (ready if commissioned, else new)', examples: [['Fixed', 'sprout machine mark-fixed node-01']] });

  machine = Option.String({ name: 'machine' });

  async run() {
    const machine = await this.api().post<Machine>(`v1/machines/${encodeURIComponent(this.machine)}/mark-fixed`);
    this.print(machine, () => machineDetails(machine));
  }
}
