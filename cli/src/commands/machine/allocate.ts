import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { machineDetails } from '../../render/machine.ts';

export class MachineAllocateCommand extends SproutCommand {
  static paths = [['machine', 'allocate']];
  static usage = Command.Usage({
    category: 'Machines',
    description: 'Allocate a ready machine matching constraints',
    examples: [['Any GPU box at dc1', 'sprout machine allocate --site dc1 --tag gpu --min-cpus 32']],
  });

  site = Option.String('--site', { description: 'Site id or name' });
  arch = Option.String('--arch', { description: 'x86_64 or arm64', validator: t.isEnum(['x86_64', 'arm64'] as const) });
  tags = Option.Array('--tag', [], { description: 'Required tag, repeatable' });
  minCpus = Option.String('--min-cpus', { description: 'At least this many CPUs', validator: t.isNumber() });
  minMemoryMiB = Option.String('--min-memory-mib', { description: 'At least this much memory, in MiB', validator: t.isNumber() });
  owner = Option.String('--owner', { description: 'Who the machine is allocated to' });

  async run() {
    const constraints = {
      ...(this.arch ? { arch: this.arch } : {}),
      ...(this.tags.length ? { tags: this.tags } : {}),
      ...(this.minCpus !== undefined ? { minCpus: this.minCpus } : {}),
      ...(this.minMemoryMiB !== undefined ? { minMemoryMiB: this.minMemoryMiB } : {}),
    };
    const machine = await ok(
      this.api().typed.POST('/v1/machines/allocate', {
        body: { ...(this.site ? { site: this.site } : {}), constraints, ...(this.owner ? { owner: this.owner } : {}) },
      }),
    );
    this.print(machine, () => machineDetails(machine));
  }
}
