import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { machineDetails, type Machine } from '../../render/machine.ts';

export class MachineAllocateCommand extends SproutCommand {
  static paths = [['machine', 'allocate']];
  static usage = Command.Usage({ category: 'Machines', description: 'Allocate a ready machine matching constraints', examples: [['Any GPU box at dc1', 'sprout machine allocate --site dc1 --tag gpu --min-cpus 32']] });

  site = Option.String('--site');
  arch = Option.String('--arch', { validator: t.isEnum(['x86_64', 'arm64']) });
  tags = Option.Array('--tag', []);
  minCpus = Option.String('--min-cpus', { validator: t.isNumber() });
  minMemoryMiB = Option.String('--min-memory-mib', { validator: t.isNumber() });
  owner = Option.String('--owner');

  async run() {
    const constraints = {
      ...(this.arch ? { arch: this.arch } : {}),
      ...(this.tags.length ? { tags: this.tags } : {}),
      ...(this.minCpus !== undefined ? { minCpus: this.minCpus } : {}),
      ...(this.minMemoryMiB !== undefined ? { minMemoryMiB: this.minMemoryMiB } : {}),
    };
    const machine = await this.api().post<Machine>('v1/machines/allocate', { ...(this.site ? { site: this.site } : {}), constraints, ...(this.owner ? { owner: this.owner } : {}) });
    this.print(machine, () => machineDetails(machine));
  }
}
