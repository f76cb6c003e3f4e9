/**
 * IPAM backed by NetBox (stub). Selected with `capabilities.ipam.use: netbox-stub` and
 * configured under `plugins.netbox-stub`. Operations it does not implement answer
 * SPROUT_ERR_NOT_IMPLEMENTED naming this plugin.
 */
import Type from 'typebox';
import { definePlugin, ipamCapability, notImplemented, type IpamProvider } from '@sprout/kernel';

const id = 'netbox-stub';

export const configSchema = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'NetBox base URL, e.g. https://netbox.example.net' }),
    token: Type.String({ minLength: 1, description: 'NetBox API token' }),
    prefixes: Type.Optional(Type.Record(Type.String(), Type.Integer({ minimum: 1 }), { description: 'Sprout network CIDR → NetBox prefix id' })),
  },
  { additionalProperties: false },
);

const pending = (op: string) => Promise.reject(notImplemented(id, op, 'NetBox calls arrive with the plugin ecosystem work'));

export default definePlugin({
  id,
  configSchema,
  setup(ctx) {
    ctx.provide(ipamCapability, (): IpamProvider => ({
      allocateAddress: () => pending('allocateAddress'),
      releaseAddress: () => pending('releaseAddress'),
      listAllocations: () => pending('listAllocations'),
      findAllocation: () => pending('findAllocation'),
    }));
  },
});
