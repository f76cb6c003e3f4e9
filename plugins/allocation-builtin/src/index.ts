/**
 * Builtin allocation plugin: picks a ready machine matching an operator's constraints,
 * race-safe under concurrent requests. Moving it to `allocated` is the kernel's job.
 */
import { allocationCapability, definePlugin } from '@sprout/kernel/sdk';
import { pickMachine } from './pick-machine.ts';

export default definePlugin({
  id: 'allocation-builtin',
  setup(ctx) {
    ctx.provide(allocationCapability, () => ({ pickMachine }));
  },
});
