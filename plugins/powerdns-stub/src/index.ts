/**
 * DNS backed by the PowerDNS Authoritative server (stub). Selected with
 * `capabilities.dns.use: powerdns-stub` and configured under `plugins.powerdns-stub`:
 * the API's URL and key, the server id, and the zones Sprout may write. The zones must
 * exist in PowerDNS, with a backend that keeps RRset comments.
 */
import Type from 'typebox';
import { definePlugin, dnsCapability } from '@sprout/kernel/sdk';
import { PowerdnsClient } from './powerdns-client.ts';
import { PowerdnsDns } from './powerdns-dns.ts';

const id = 'powerdns-stub';

export const configSchema = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'PowerDNS webserver URL, e.g. http://pdns.example.net:8081' }),
    apiKey: Type.String({ minLength: 1, description: 'The api-key PowerDNS is configured with' }),
    serverId: Type.String({ minLength: 1, default: 'localhost', description: 'PowerDNS server id' }),
    zones: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Zones Sprout may write, e.g. lab.example and 0.18.198.in-addr.arpa' }),
    defaultTtl: Type.Integer({ minimum: 0, maximum: 2_147_483_647, default: 300, description: 'TTL of records that name none' }),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000, description: 'How long one API call may take' }),
  },
  { additionalProperties: false },
);

export { PowerdnsClient } from './powerdns-client.ts';
export { PowerdnsDns } from './powerdns-dns.ts';

export default definePlugin({
  id,
  configSchema,
  setup(ctx) {
    const { config } = ctx;
    ctx.provide(
      dnsCapability,
      () =>
        new PowerdnsDns(
          new PowerdnsClient({ pluginId: id, url: config.url, apiKey: config.apiKey, timeoutMs: config.timeoutMs ?? 10_000 }),
          { serverId: config.serverId ?? 'localhost', zones: config.zones ?? [], defaultTtl: config.defaultTtl ?? 300 },
          id,
        ),
    );
  },
});
