/**
 * A QEMU VM on an e2e site's wire whose only power is an `ipmi_sim` BMC inside the
 * site's namespace: the agent reaches the BMC at the bridge's address, the VM's NIC is
 * the namespace's tap, each power-on writes its own serial log. Nothing but the BMC
 * starts or stops the VM.
 */
import type { ExecutionContext } from 'ava';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { E2eSite } from './e2e-site.ts';
import { startIpmiBmc, type IpmiBmc } from './ipmi-bmc.ts';
import { writeSerconPort } from './qemu.ts';

export interface IpmiVmOptions {
  name: string;
  mac: string;
  firmware: 'bios' | 'uefi';
  cpus: number;
  memoryMiB: number;
  diskBytes: number;
}

export interface IpmiVm {
  bmc: IpmiBmc;
  /** The VM's raw disk file. */
  disk: string;
  /** The serial log of the `start`th power-on (1, 2, …), escape sequences removed. */
  serial(start: number): string;
  /** `sprout machine create` flags for this VM's BMC (the password goes on standard input). */
  bmcFlags(): string[];
}

export async function startIpmiVm(t: ExecutionContext, site: E2eSite, o: IpmiVmOptions): Promise<IpmiVm> {
  const disk = join(site.work, `${o.name}.disk.raw`);
  writeFileSync(disk, '');
  truncateSync(disk, o.diskBytes);
  const serconPort = join(site.work, 'sercon-port');
  writeSerconPort(serconPort);
  const serialLog = (start: number | string) => site.logFile(`${o.name}.start-${start}.serial.log`);
  // OVMF (PowerVm brings its code and a copy of its variables): its own IPv6 PXE attempt would add its own wait before iPXE's.
  const firmware = o.firmware === 'uefi' ? ['-fw_cfg', 'name=opt/org.tianocore/IPv6Support,string=no'] : [];
  const bmc = await startIpmiBmc({
    spawn: (command, args, options) => site.ns.spawn(command, args, options),
    host: site.ns.address,
    username: 'sprout-admin',
    password: `bmc-pw-${o.name}-0042`,
    vm: {
      name: o.name,
      memoryMiB: o.memoryMiB,
      firmware: o.firmware,
      qemuArgs: [
        '-smp',
        String(o.cpus),
        '-serial',
        `file:${serialLog('{start}')}`,
        '-fw_cfg',
        `name=etc/sercon-port,file=${serconPort}`,
        ...firmware,
        '-netdev',
        `tap,id=n0,ifname=${site.ns.tap},script=no,downscript=no`,
        '-device',
        `virtio-net-pci,netdev=n0,mac=${o.mac},bootindex={bootindex:network}`,
        '-drive',
        `file=${disk},if=none,id=disk0,format=raw`,
        '-device',
        'virtio-blk-pci,drive=disk0,bootindex={bootindex:disk}',
      ],
    },
  });
  t.teardown(async () => {
    writeFileSync(site.logFile(`${o.name}.bmc.log`), bmc.log());
    await bmc.stop();
  });
  return {
    bmc,
    disk,
    serial: (start) => {
      try {
        return readFileSync(serialLog(start), 'latin1').replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '');
      } catch {
        return '';
      }
    },
    bmcFlags: () => ['--bmc-type', 'ipmi', '--bmc-address', bmc.address, '--bmc-username', bmc.username, '--bmc-password-file', '-'],
  };
}
