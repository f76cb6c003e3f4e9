/**
 * Builtin allocation plugin: picks a ready machine matching an operator's constraints,
 * race-safe under concurrent requests. Moving it to `allocated` is the kernel's job; the
 * machines are read through the kernel's read API (`ctx.read`). It owns no tables.
 */
import { allocationCapability, definePlugin } from '@sprout/kernel/sdk';
import { pickMachine } from './pick-machine.ts';

export default definePlugin({
  id: 'allocation-builtin',
  setup(ctx) {
    ctx.provide(allocationCapability, () => ({ pickMachine: (trx, constraints) => pickMachine(ctx.read, trx, constraints) }));
  },
});
