import { Command, Option, ok, type ApiPaths } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { machineDetails } from '../../render/machine.ts';
import { anyBmcFlag, bmcBody, BmcFlagsCommand, bmcPassword } from './bmc-flags.ts';

/** PATCH /v1/machines/{id}'s body, from the OpenAPI document. */
type MachinePatch = NonNullable<ApiPaths['/v1/machines/{id}']['patch']['requestBody']>['content']['application/json'];

export class MachineUpdateCommand extends BmcFlagsCommand {
  static paths = [['machine', 'update']];
  static usage = Command.Usage({
    category: 'Machines',
    description: 'Change hostname, tags, expected hardware, owner or BMC',
    examples: [
      ['Retag', 'sprout machine update node-01 --tag rack2 --tag gpu'],
      ['New BMC password', 'sprout machine update node-01 --bmc-password-file -'],
    ],
  });

  machine = Option.String({ name: 'machine' });
  hostname = Option.String('--hostname', { description: 'New hostname, unique within the site' });
  tags = Option.Array('--tag', { description: 'Replaces all tags; repeatable' });
  clearTags = Option.Boolean('--clear-tags', false, { description: 'Remove every tag' });
  owner = Option.String('--owner', { description: 'Who the machine is allocated to' });
  cpus = Option.String('--cpus', { description: 'Expected CPU count, checked by commissioning', validator: t.isNumber() });
  memoryMiB = Option.String('--memory-mib', { description: 'Expected memory in MiB, checked by commissioning', validator: t.isNumber() });
  disks = Option.String('--disks', { description: 'Expected number of disks, checked by commissioning', validator: t.isNumber() });
  clearBmc = Option.Boolean('--clear-bmc', false, { description: 'Remove the BMC and its credentials (manual power)' });
  clearBmcPassword = Option.Boolean('--clear-bmc-password', false, { description: 'Forget the stored BMC password, keep the BMC' });

  async run() {
    const expected = {
      ...(this.cpus !== undefined ? { cpus: this.cpus } : {}),
      ...(this.memoryMiB !== undefined ? { memoryMiB: this.memoryMiB } : {}),
      ...(this.disks !== undefined ? { disks: this.disks } : {}),
    };
    const password = bmcPassword(this, (line) => this.context.stderr.write(`${line}\n`));
    let bmc: MachinePatch['bmc'];
    if (this.clearBmc) bmc = null;
    else if (anyBmcFlag(this) || password || this.clearBmcPassword) {
      // PATCH replaces the whole BMC record: start from what the machine has.
      const current = await ok(this.api().typed.GET('/v1/machines/{id}', { params: { path: { id: this.machine } } }));
      bmc = { ...bmcBody(this, password, current.bmc), ...(this.clearBmcPassword ? { password: null } : {}) } as NonNullable<MachinePatch['bmc']>;
    }
    const patch: MachinePatch = {
      ...(bmc !== undefined ? { bmc } : {}),
      ...(this.hostname ? { hostname: this.hostname } : {}),
      ...(this.tags ? { tags: this.tags } : this.clearTags ? { tags: [] } : {}),
      ...(this.owner !== undefined ? { owner: this.owner || null } : {}),
      ...(Object.keys(expected).length ? { expected } : {}),
    };
    const machine = await ok(this.api().typed.PATCH('/v1/machines/{id}', { params: { path: { id: this.machine } }, body: patch }));
    this.print(machine, () => machineDetails(machine));
  }
}
