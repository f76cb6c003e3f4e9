/**
 * DHCP: turns IPAM allocations into reservations that the site's DHCP server honours,
 * with the PXE boot fields. The builtin server runs in the agent; an external provider
 * (a Kea stub) pushes the same reservations to another server.
 */
import type { Knex } from 'knex';
import { SproutError } from '../errors/index.ts';
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

const macSpellings = [/^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$/i, /^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/i, /^[0-9a-f]{12}$/i];

/**
 * A reservation's MAC as operators and tools spell it (colons, dashes, Cisco dots, bare
 * hex) reduced to the one form every `dhcp` provider keys by and Kea answers with:
 * `AA-BB-CC-DD-EE-FF`, `aabb.ccdd.eeff`, `AABBCCDDEEFF` → `aa:bb:cc:dd:ee:ff`.
 */
export function normaliseReservationMac(mac: string): string {
  const spelled = String(mac).trim();
  if (!macSpellings.some((form) => form.test(spelled))) {
    const message = `${JSON.stringify(mac)} is not a MAC address (e.g. aa:bb:cc:dd:ee:ff)`;
    throw new SproutError('SPROUT_ERR_VALIDATION', `DHCP reservation mac: ${message}`, { details: [{ field: 'mac', message }], context: { mac } });
  }
  return spelled.replace(/[:.-]/g, '').toLowerCase().match(/../g)!.join(':');
}
