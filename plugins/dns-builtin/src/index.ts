/**
 * Builtin DNS plugin: keeps machines' A and PTR records in its own table for the site
 * agent to serve authoritatively. The agent's DNS server lands with the site services.
 */
import { fileURLToPath } from 'node:url';
import { definePlugin, dnsCapability } from '@sprout/kernel';
import { dnsRecordStore } from './dns-record-store.ts';

export { recordsForAddress, reverseNameFor, reverseZoneFor } from '@sprout/kernel';

export default definePlugin({
  id: 'dns-builtin',
  migrations: fileURLToPath(new URL('../migrations/', import.meta.url)),
  setup(ctx) {
    ctx.provide(dnsCapability, () => dnsRecordStore(ctx.db));
  },
});
