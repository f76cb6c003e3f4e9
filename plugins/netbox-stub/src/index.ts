/**
 * IPAM backed by NetBox (stub). Selected with `capabilities.ipam.use: netbox-stub` and
 * configured under `plugins.netbox-stub`: NetBox's URL, an API token, and which NetBox
 * prefix holds each Sprout network. It never keeps addresses in Sprout's database.
 */
import Type from 'typebox';
import { definePlugin, ipamCapability, ipv4CidrPattern } from '@sprout/kernel/sdk';
import { NetboxClient } from './netbox-client.ts';
import { NetboxIpam } from './netbox-ipam.ts';

const id = 'netbox-stub';

export const configSchema = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'NetBox base URL, e.g. https://netbox.example.net' }),
    token: Type.String({ minLength: 1, description: 'NetBox API token' }),
    prefixes: Type.Optional(
      Type.Record(Type.String(), Type.Integer({ minimum: 1 }), {
        propertyNames: { pattern: ipv4CidrPattern },
        description: 'Sprout network CIDR → NetBox prefix id',
      }),
    ),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000, description: 'How long one NetBox call may take' }),
  },
  { additionalProperties: false },
);

export { NetboxIpam } from './netbox-ipam.ts';
export { NetboxClient } from './netbox-client.ts';

export default definePlugin({
  id,
  configSchema,
  setup(ctx) {
    const { config } = ctx;
    ctx.provide(
      ipamCapability,
      () => new NetboxIpam(new NetboxClient({ pluginId: id, url: config.url, token: config.token, timeoutMs: config.timeoutMs ?? 10_000 }), config, id),
    );
  },
});
