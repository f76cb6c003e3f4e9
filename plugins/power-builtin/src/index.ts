/**
 * Builtin power plugin: the `manual` driver, for machines without a BMC (and any whose
 * `bmc.type` is `manual`). The control plane learns the type exists and needs no
 * address; the site agent gets the driver, which does nothing itself and says what a
 * person has to do — the agent then waits for the machine's PXE request.
 */
import { definePlugin, powerCapability } from '@sprout/kernel/sdk';

export default definePlugin({
  id: 'power-builtin',
  setup(ctx) {
    ctx.provide(powerCapability, () => ({
      type: 'manual',
      description: 'a person powers the machine; the workflow waits until the machine PXE-boots',
      needsAddress: false,
    }));
  },
  agent: async () => ({ power: { manual: (await import('./manual-driver.ts')).manualDriver } }),
});
