import { Command, Option, ok, type ApiPaths } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { machineDetails } from '../../render/machine.ts';
import { anyBmcFlag, bmcBody, BmcFlagsCommand, bmcPassword } from './bmc-flags.ts';

/** POST /v1/machines's body, from the OpenAPI document. */
type MachineCreate = NonNullable<ApiPaths['/v1/machines']['post']['requestBody']>['content']['application/json'];

export class MachineCreateCommand extends BmcFlagsCommand {
  static paths = [['machine', 'create']];
  static usage = Command.Usage({
    category: 'Machines',
    description: 'Create a machine (status new); the first --mac is the PXE interface',
    examples: [
      [
        'With an IPMI BMC',
        'sprout machine create node-03 --site dc1 --mac 52:54:00:12:34:57 --bmc-type ipmi --bmc-address 10.0.0.3 --bmc-username admin --bmc-password-file bmc.pass',
      ],
      ['A BIOS machine', 'sprout machine create node-01 --site dc1 --mac 52:54:00:12:34:56 --tag rack1'],
      [
        'UEFI, two NICs',
        'sprout machine create node-02 --site dc1 --arch x86_64 --boot-mode uefi --mac aa:bb:cc:00:00:01 --mac aa:bb:cc:00:00:02 --cpus 16 --memory-mib 65536',
      ],
    ],
  });

  hostname = Option.String({ name: 'hostname' });
  site = Option.String('--site', { required: true, description: 'Site id or name' });
  arch = Option.String('--arch', 'x86_64', { description: 'x86_64 (default) or arm64', validator: t.isEnum(['x86_64', 'arm64'] as const) });
  bootMode = Option.String('--boot-mode', 'bios', { description: 'bios (default) or uefi', validator: t.isEnum(['bios', 'uefi'] as const) });
  macs = Option.Array('--mac', { required: true, description: 'MAC address, repeatable; the first boots' });
  tags = Option.Array('--tag', [], { description: 'Tag, repeatable' });
  cpus = Option.String('--cpus', { description: 'Expected CPU count, checked by commissioning', validator: t.isNumber() });
  memoryMiB = Option.String('--memory-mib', { description: 'Expected memory in MiB, checked by commissioning', validator: t.isNumber() });
  disks = Option.String('--disks', { description: 'Expected number of disks, checked by commissioning', validator: t.isNumber() });

  async run() {
    const password = bmcPassword(this, (line) => this.context.stderr.write(`${line}\n`));
    const expected = {
      ...(this.cpus !== undefined ? { cpus: this.cpus } : {}),
      ...(this.memoryMiB !== undefined ? { memoryMiB: this.memoryMiB } : {}),
      ...(this.disks !== undefined ? { disks: this.disks } : {}),
    };
    const body: MachineCreate = {
      site: this.site,
      hostname: this.hostname,
      arch: this.arch,
      bootMode: this.bootMode,
      interfaces: this.macs.map((mac, i) => ({ mac, pxe: i === 0 })),
      ...(this.tags.length ? { tags: this.tags } : {}),
      ...(Object.keys(expected).length ? { expected } : {}),
      ...(anyBmcFlag(this) || password ? { bmc: bmcBody(this, password) as MachineCreate['bmc'] } : {}),
    };
    const machine = await ok(this.api().typed.POST('/v1/machines', { body }));
    this.print(machine, () => machineDetails(machine));
  }
}
