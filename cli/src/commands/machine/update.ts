import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { machineDetails, type Machine } from '../../render/machine.ts';

export class MachineUpdateCommand extends SproutCommand {
  static paths = [['machine', 'update']];
  static usage = Command.Usage({ category: 'Machines', description: 'Change hostname, tags, expected hardware or owner', examples: [['Retag', 'sprout machine update node-01 --tag rack2 --tag gpu']] });

  machine = Option.String({ name: 'machine' });
  hostname = Option.String('--hostname');
  tags = Option.Array('--tag', { description: 'Replaces all tags; repeatable' });
  clearTags = Option.Boolean('--clear-tags', false);
  owner = Option.String('--owner');
  cpus = Option.String('--cpus', { validator: t.isNumber() });
  memoryMiB = Option.String('--memory-mib', { validator: t.isNumber() });
  disks = Option.String('--disks', { validator: t.isNumber() });

  async run() {
    const expected = { ...(this.cpus !== undefined ? { cpus: this.cpus } : {}), ...(this.memoryMiB !== undefined ? { memoryMiB: this.memoryMiB } : {}), ...(this.disks !== undefined ? { disks: this.disks } : {}) };
    const patch = {
      ...(this.hostname ? { hostname: this.hostname } : {}),
      ...(this.tags ? { tags: this.tags } : this.clearTags ? { tags: [] } : {}),
      ...(this.owner !== undefined ? { owner: this.owner || null } : {}),
      ...(Object.keys(expected).length ? { expected } : {}),
    };
    const machine = await this.api().patch<Machine>(`v1/machines/${encodeURIComponent(this.machine)}`, patch);
    this.print(machine, () => machineDetails(machine));
  }
}
