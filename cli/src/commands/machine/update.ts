import { Command, Option } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { machineDetails, type Machine } from '../../render/machine.ts';
import { anyBmcFlag, bmcBody, BmcFlagsCommand, bmcPassword } from './bmc-flags.ts';

export class MachineUpdateCommand extends BmcFlagsCommand {
  static paths = [['machine', 'update']];
  static usage = Command.Usage({ category: 'Machines', description: 'Change hostname, tags, expected hardware, owner or BMC', examples: [['Retag', 'sprout machine update node-01 --tag rack2 --tag gpu'], ['New BMC password', 'sprout machine update node-01 --bmc-password-file -']] });

  machine = Option.String({ name: 'machine' });
  hostname = Option.String('--hostname');
  tags = Option.Array('--tag', { description: 'Replaces all tags; repeatable' });
  clearTags = Option.Boolean('--clear-tags', false);
  owner = Option.String('--owner');
  cpus = Option.String('--cpus', { validator: t.isNumber() });
  memoryMiB = Option.String('--memory-mib', { validator: t.isNumber() });
  disks = Option.String('--disks', { validator: t.isNumber() });
  clearBmc = Option.Boolean('--clear-bmc', false, { description: 'Remove the BMC and its credentials (manual power)' });
  clearBmcPassword = Option.Boolean('--clear-bmc-password', false);

  async run() {
    const expected = { ...(this.cpus !== undefined ? { cpus: this.cpus } : {}), ...(this.memoryMiB !== undefined ? { memoryMiB: this.memoryMiB } : {}), ...(this.disks !== undefined ? { disks: this.disks } : {}) };
    const password = bmcPassword(this, (line) => this.context.stderr.write(`${line}\n`));
    let bmc: unknown;
    if (this.clearBmc) bmc = null;
    else if (anyBmcFlag(this) || password || this.clearBmcPassword) {
      // PATCH replaces the whole BMC record: start from what the machine has.
      const current = await this.api().get<Machine>(`v1/machines/${encodeURIComponent(this.machine)}`);
      bmc = { ...bmcBody(this, password, current.bmc), ...(this.clearBmcPassword ? { password: null } : {}) };
    }
    const patch = {
      ...(bmc !== undefined ? { bmc } : {}),
      ...(this.hostname ? { hostname: this.hostname } : {}),
      ...(this.tags ? { tags: this.tags } : this.clearTags ? { tags: [] } : {}),
      ...(this.owner !== undefined ? { owner: this.owner || null } : {}),
      ...(Object.keys(expected).length ? { expected } : {}),
    };
    const machine = await this.api().patch<Machine>(`v1/machines/${encodeURIComponent(this.machine)}`, patch);
    this.print(machine, () => machineDetails(machine));
  }
}
