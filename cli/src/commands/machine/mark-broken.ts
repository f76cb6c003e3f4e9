import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import { machineDetails, type Machine } from '../../render/machine.ts';

export class MachineMarkBrokenCommand extends SproutCommand {
  static paths = [['machine', 'mark-broken']];
  static usage = Command.Usage({ category: 'Machines', description: 'Mark a machine broken, with the reason others will see', examples: [['Broken', 'sprout machine mark-broken node-01 --reason "PSU failed"']] });

  machine = Option.String({ name: 'machine' });
  reason = Option.String('--reason', { required: true, description: 'Why, shown by machine show' });

  async run() {
    const machine = await this.api().post<Machine>(`v1/machines/${encodeURIComponent(this.machine)}/mark-broken`, { reason: this.reason });
    this.print(machine, () => machineDetails(machine));
  }
}
