/**
 * DNS: keeps forward (A) and reverse (PTR) records for provisioned machines. The
 * builtin keeps the records and the agent serves the zones; external providers write
 * them to another server (a PowerDNS stub).
 */
import type { Knex } from 'knex';
import { defineCapability } from './define-capability.ts';

export interface DnsRecord {
  siteId: string;
  zone: string;
  name: string;
  type: 'A' | 'PTR';
  value: string;
  ttl?: number;
}

/** `trx`: the caller's transaction, for providers that keep state in Sprout's database. */
export interface DnsProvider {
  /** Creates or replaces each record (same site, zone, name and type): idempotent. */
  upsertRecords(records: DnsRecord[], trx?: Knex.Transaction): Promise<void>;
  /** Removes the records; removing a missing one is not an error. */
  removeRecords(records: Pick<DnsRecord, 'siteId' | 'zone' | 'name' | 'type'>[], trx?: Knex.Transaction): Promise<void>;
  listRecords(siteId: string, zone?: string, trx?: Knex | Knex.Transaction): Promise<DnsRecord[]>;
}

export const dnsCapability = defineCapability<DnsProvider>({
  id: 'dns',
  cardinality: 'one',
  description: 'Forward and reverse DNS records for machines',
});
