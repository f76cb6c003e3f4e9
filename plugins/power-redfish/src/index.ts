/**
 * Redfish power driver plugin: the control plane learns the `redfish` bmc.type and how
 * its address is checked (an https URL); the site agent gets the driver, which talks to
 * the BMC's Redfish API over HTTPS (see README.md).
 */
import { definePlugin, powerCapability } from '@sprout/kernel/sdk';
import { checkRedfishAddress } from './address.ts';

export { checkRedfishAddress } from './address.ts';
export { redfishDriver } from './redfish-driver.ts';

export default definePlugin({
  id: 'power-redfish',
  setup(ctx) {
    ctx.provide(powerCapability, () => ({
      type: 'redfish',
      description: 'Redfish BMCs over HTTPS: ComputerSystem.Reset and Boot override',
      needsAddress: true,
      checkAddress: checkRedfishAddress,
    }));
  },
  agent: async () => ({ power: { redfish: (await import('./redfish-driver.ts')).redfishDriver() } }),
});
