/**
 * Builtin DNS plugin: keeps machines' A and PTR records in its own table (control plane)
 * and serves them authoritatively from the site agent as the `dns` service.
 */
import { fileURLToPath } from 'node:url';
import { definePlugin, dnsCapability } from '@sprout/kernel/sdk';
import { dnsRecordStore } from './dns-record-store.ts';

export { recordsForAddress, reverseNameFor, reverseZoneFor } from '@sprout/kernel/sdk';

export default definePlugin({
  id: 'dns-builtin',
  migrations: fileURLToPath(new URL('../migrations/', import.meta.url)),
  setup(ctx) {
    ctx.provide(dnsCapability, () => dnsRecordStore(ctx.db));
    // Records name their site by id (no foreign key on a kernel table): they go with it, in the deleting transaction.
    ctx.hooks.siteRemoving.tap(async ({ id, trx }) => {
      await trx('dns_records').where({ site_id: id }).delete();
    });
  },
  agent: async () => {
    const { parseDnsSettings } = await import('./agent/settings.ts');
    return { services: { dns: (await import('./agent/dns-service.ts')).dnsService }, settingsChecks: { dns: (settings) => parseDnsSettings(settings) } };
  },
});
