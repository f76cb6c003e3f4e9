/**
 * Builtin DHCP plugin: keeps reservations (MAC → address, hostname, netboot) in its own
 * table for the site agent's DHCPv4 server. The server itself lands with the site services.
 */
import { fileURLToPath } from 'node:url';
import { definePlugin, dhcpCapability } from '@sprout/kernel';
import { reservationStore } from './reservation-store.ts';

export { normaliseMac } from './mac-address.ts';

export default definePlugin({
  id: 'dhcp-builtin',
  migrations: fileURLToPath(new URL('../migrations/', import.meta.url)),
  setup(ctx) {
    ctx.provide(dhcpCapability, () => reservationStore(ctx.db));
  },
});
