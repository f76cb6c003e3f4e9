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
  },
  agent: async () => {
    const { parseDhcpSettings } = await import('./agent/dhcp-settings.ts');
    return { services: { dhcp: (await import('./agent/dhcp-service.ts')).dhcpService }, settingsChecks: { dhcp: (settings, services) => parseDhcpSettings(settings, services) } };
  },
});
