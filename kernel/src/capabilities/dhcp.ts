/**
 * DHCP: turns IPAM allocations into reservations that the site's DHCP server honours,
 * with the PXE boot fields. The builtin server runs in the agent; an external provider
 * (a Kea stub) pushes the same reservations to another server.
 */
import { defineCapability } from './define-capability.ts';

export interface DhcpReservation {
  siteId: string;
  networkId: string;
  mac: string;
  address: string;
  hostname?: string;
  /** Whether the machine may netboot now; a machine that may not is told nothing. */
  netboot: boolean;
}

export interface DhcpProvider {
  reserve(reservation: DhcpReservation): Promise<void>;
  unreserve(siteId: string, mac: string): Promise<void>;
  listReservations(siteId: string): Promise<DhcpReservation[]>;
}

export const dhcpCapability = defineCapability<DhcpProvider>({
  id: 'dhcp',
  cardinality: 'one',
  description: 'DHCP reservations with PXE options for provisioning networks',
});
