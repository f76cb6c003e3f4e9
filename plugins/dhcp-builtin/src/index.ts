/**
 * Builtin DHCP plugin: keeps reservations (MAC → address, hostname, netboot) in its own
 * table, and runs Sprout's own DHCPv4 server as the site agent's `dhcp` service.
 */
import { fileURLToPath } from 'node:url';
import { definePlugin, dhcpCapability } from '@sprout/kernel/sdk';
import { reservationStore } from './reservation-store.ts';

export { normaliseMac } from '@sprout/kernel/sdk';

export default definePlugin({
  id: 'dhcp-builtin',
  migrations: fileURLToPath(new URL('../migrations/', import.meta.url)),
  setup(ctx) {
    ctx.provide(dhcpCapability, () => reservationStore(ctx.db));
    // Reservations name their site and network by id (no foreign keys on kernel tables): they go with them, in the deleting transaction.
    ctx.hooks.siteRemoving.tap(async ({ id, trx }) => {
      await trx('dhcp_reservations').where({ site_id: id }).delete();
    });
    ctx.hooks.networkRemoving.tap(async ({ id, trx }) => {
      await trx('dhcp_reservations').where({ network_id: id }).delete();
    });
  },
  agent: async () => {
    const { parseDhcpSettings } = await import('./agent/dhcp-settings.ts');
    return {
      services: { dhcp: (await import('./agent/dhcp-service.ts')).dhcpService },
      settingsChecks: { dhcp: (settings, services) => parseDhcpSettings(settings, services) },
    };
  },
});
