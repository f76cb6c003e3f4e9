/**
 * Builtin IPAM plugin: addresses allocated race-free inside the kernel's networks,
 * kept in its own `ip_allocations` table (kernel rows referenced by id, no foreign keys).
 */
import { definePlugin, ipamCapability } from '@sprout/kernel/sdk';
import { BuiltinIpam } from './builtin-ipam.ts';

const id = 'ipam-builtin';

export default definePlugin({
  id,
  migrations: new URL('../migrations/', import.meta.url).pathname,
  setup(ctx) {
    ctx.provide(ipamCapability, () => new BuiltinIpam(ctx.db, id, ctx.read));
    // Allocations name their network, machine and interface by id (no foreign keys on kernel tables):
    // what the cascades did happens here, in the deleting transaction.
    ctx.hooks.machineRemoving.tap(async ({ id: machineId, trx }) => {
      await trx('ip_allocations').where({ machine_id: machineId }).delete();
    });
    ctx.hooks.networkRemoving.tap(async ({ id: networkId, trx }) => {
      await trx('ip_allocations').where({ network_id: networkId }).delete();
    });
  },
});
