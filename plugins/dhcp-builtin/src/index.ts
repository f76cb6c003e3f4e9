/**
 * Builtin DHCP plugin. Reservations and the agent's DHCPv4 server land with the
 * provisioning services; until then every operation says so explicitly.
 */
import { definePlugin, dhcpCapability, notImplemented, type DhcpProvider } from '@sprout/kernel';

const id = 'dhcp-builtin';
const pending = (op: string) => Promise.reject(notImplemented(id, op, 'DHCP reservations arrive with the site provisioning services'));

export default definePlugin({
  id,
  setup(ctx) {
    ctx.provide(dhcpCapability, (): DhcpProvider => ({
      reserve: () => pending('reserve'),
      unreserve: () => pending('unreserve'),
      listReservations: () => pending('listReservations'),
    }));
  },
});
