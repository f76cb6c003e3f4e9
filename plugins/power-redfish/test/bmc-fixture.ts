/**
 * What the redfish tests share: the driver as the site agent gets it (the plugin's agent
 * part), a Redfish BMC driving a QEMU VM in a temp dir, targets pointing at it, and
 * addresses that do not answer (test-support/src/redfish-bmc.ts). Everything made here is removed by `close`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BmcAccess, PowerDriver, PowerTarget } from '@sprout/kernel';
import plugin from '../src/index.ts';
import { powerVm } from '@sprout/test-support/power-vm.ts';
import { startRedfishBmc, type RedfishBmc, type RedfishBmcOptions } from '@sprout/test-support/redfish-bmc.ts';

export { deadAddress, silentServer } from '@sprout/test-support/redfish-bmc.ts';

export const username = 'sprout-admin';
export const password = 'S3cret-bmc-passw0rd';

/** The `redfish` driver from the plugin's agent part, as loadAgentParts hands it to the agent. */
export async function agentDriver(): Promise<PowerDriver> {
  const driver = (await plugin.agent!()).power?.redfish;
  if (!driver) throw new Error('the power-redfish plugin gives the agent no redfish driver');
  return driver;
}

export function targetOf(bmc: Partial<BmcAccess>, name = 'rf-node-1'): PowerTarget {
  return { machineId: `machine-${name}`, hostname: name, macs: ['52:54:00:12:34:56'], bmc: { type: 'redfish', username, password, ...bmc } };
}

export interface Lab {
  bmc: RedfishBmc;
  /** The BMC with the right credentials, its self-signed certificate accepted. */
  target: PowerTarget;
  close(): Promise<void>;
}

export async function redfishLab(name: string, options: Partial<RedfishBmcOptions> = {}): Promise<Lab> {
  const dir = mkdtempSync(join(tmpdir(), `sprout-${name}-`));
  const vm = powerVm({ name, dir });
  const bmc = await startRedfishBmc({ dir, vm, username, password, ...options });
  return {
    bmc,
    target: targetOf({ address: bmc.address, insecure: true }, name),
    async close() {
      await bmc.close();
      await vm.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
