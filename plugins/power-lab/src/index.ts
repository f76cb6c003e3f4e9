/**
 * Lab power driver plugin: the control plane learns the `lab` bmc.type (a machine of the
 * machine simulator, powered through the simulator's HTTP power switch on loopback); the
 * site agent gets the driver. `sprout lab demo` and `lab up` import their machines with
 * `bmc: { type: 'lab', address: <switch URL> }`.
 */
import { definePlugin, powerCapability } from '@sprout/kernel/sdk';
import { checkLabAddress } from './address.ts';

export { checkLabAddress } from './address.ts';
export { labDriver } from './lab-driver.ts';

export default definePlugin({
  id: 'power-lab',
  setup(ctx) {
    ctx.provide(powerCapability, () => ({
      type: 'lab',
      description: "The machine simulator's power switch (sprout lab): power and next boot device over HTTP on loopback",
      needsAddress: true,
      checkAddress: checkLabAddress,
    }));
  },
  agent: async () => ({ power: { lab: (await import('./lab-driver.ts')).labDriver() } }),
});
