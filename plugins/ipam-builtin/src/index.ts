/**
 * Builtin IPAM plugin: addresses allocated race-free inside the kernel's networks,
 * kept in its own `ip_allocations` table.
 */
import { definePlugin, ipamCapability } from '@sprout/kernel/sdk';
import { BuiltinIpam } from './builtin-ipam.ts';

const id = 'ipam-builtin';

export default definePlugin({
  id,
  migrations: new URL('../migrations/', import.meta.url).pathname,
  setup(ctx) {
    ctx.provide(ipamCapability, () => new BuiltinIpam(ctx.db, id));
  },
});
