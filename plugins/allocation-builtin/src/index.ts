/**
 * Builtin allocation plugin. Race-safe machine allocation lands with the machines API;
 * until then it says so explicitly.
 */
import { allocationCapability, definePlugin, notImplemented } from '@sprout/kernel';

const id = 'allocation-builtin';

export default definePlugin({
  id,
  setup(ctx) {
    ctx.provide(allocationCapability, () => ({
      pickMachine: () => Promise.reject(notImplemented(id, 'pickMachine', 'machine allocation arrives with the machines API')),
    }));
  },
});
