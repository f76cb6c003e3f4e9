/**
 * The IPMI power driver plugin: the control plane learns the `ipmi` bmc.type and how its
 * address is checked; the site agent gets the driver, which runs ipmitool.
 */
import { definePlugin, powerCapability } from '@sprout/kernel/sdk';
import { checkIpmiAddress } from './address.ts';

export default definePlugin({
  id: 'power-ipmi',
  setup(ctx) {
    ctx.provide(powerCapability, () => ({
      type: 'ipmi',
      description: 'IPMI v2 (lanplus) through ipmitool: bmc.address host[:port], username, password, options.cipherSuite (default 3)',
      needsAddress: true,
      checkAddress: checkIpmiAddress,
    }));
  },
  agent: async () => ({ power: { ipmi: (await import('./driver.ts')).ipmiDriver() } }),
});
