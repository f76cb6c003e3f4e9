/**
 * Builtin DNS plugin. Records and the agent's authoritative server land with the
 * provisioning services; until then every operation says so explicitly.
 */
import { definePlugin, dnsCapability, notImplemented, type DnsProvider } from '@sprout/kernel';

const id = 'dns-builtin';
const pending = (op: string) => Promise.reject(notImplemented(id, op, 'DNS records arrive with the site provisioning services'));

export default definePlugin({
  id,
  setup(ctx) {
    ctx.provide(dnsCapability, (): DnsProvider => ({
      upsertRecords: () => pending('upsertRecords'),
      removeRecords: () => pending('removeRecords'),
      listRecords: () => pending('listRecords'),
    }));
  },
});
