/**
 * Builtin IPAM plugin. The allocator lands with the control-plane work (networks and
 * allocations); until then every operation says so explicitly.
 */
import { definePlugin, ipamCapability, notImplemented, type IpamProvider } from '@sprout/kernel';

const id = 'ipam-builtin';
const pending = (op: string) => Promise.reject(notImplemented(id, op, 'address allocation arrives with the networks API'));

export default definePlugin({
  id,
  setup(ctx) {
    ctx.provide(ipamCapability, (): IpamProvider => ({
      allocateAddress: () => pending('allocateAddress'),
      releaseAddress: () => pending('releaseAddress'),
      listAllocations: () => pending('listAllocations'),
      findAllocation: () => pending('findAllocation'),
    }));
  },
});
