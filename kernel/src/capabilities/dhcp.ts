/**
 * DHCP: turns IPAM allocations into reservations that the site's DHCP server honours,
 * with the PXE boot fields. The builtin server runs in the agent; an external provider
 * (a Kea stub) pushes the same reservations to another server.
 */
import type { Knex } from 'knex';
import { normaliseMac } from '../net/mac.ts';
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

/** `trx`: the caller's transaction, for providers that keep state in Sprout's database. */
export interface DhcpProvider {
  /** Creates or replaces the reservation for `mac` (idempotent). */
  reserve(reservation: DhcpReservation, trx?: Knex.Transaction): Promise<void>;
  /** Removes the reservation for `mac`; removing a missing one is not an error. */
  unreserve(siteId: string, mac: string, trx?: Knex.Transaction): Promise<void>;
  /** The site's reservations; `macs` lets a provider narrow them to those MACs (callers still filter: it may return more). */
  listReservations(siteId: string, trx?: Knex | Knex.Transaction, macs?: string[]): Promise<DhcpReservation[]>;
}

export const dhcpCapability = defineCapability<DhcpProvider>({
  id: 'dhcp',
  cardinality: 'one',
  description: 'DHCP reservations with PXE options for provisioning networks',
});

/**
 * A reservation's MAC reduced to the one form every `dhcp` provider keys by and Kea
 * answers with (`aa:bb:cc:dd:ee:ff`).
 * @deprecated the SDK's `normaliseMac` (the same rule for every MAC); kept for plugins written against it.
 */
export function normaliseReservationMac(mac: string): string {
  return normaliseMac(mac);
}
