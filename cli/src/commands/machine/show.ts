import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import { machineDetails, type Machine } from '../../render/machine.ts';

export class MachineShowCommand extends SproutCommand {
  static paths = [['machine', 'show']];
  static usage = Command.Usage({ category: 'Machines', description: 'Show a machine: status and failure reason first', examples: [['Show', 'sprout machine show node-01']] });

  machine = Option.String({ name: 'machine' });

  async run() {
    const machine = await this.api().get<Machine>(`v1/machines/${encodeURIComponent(this.machine)}`);
    this.print(machine, () => machineDetails(machine));
  }
}
