/**
 * DNS: keeps forward (A) and reverse (PTR) records for provisioned machines. The
 * builtin keeps the records and the agent serves the zones; external providers write
 * them to another server (a PowerDNS stub).
 */
import { defineCapability } from './define-capability.ts';

export interface DnsRecord {
  siteId: string;
  zone: string;
  name: string;
  type: 'A' | 'PTR';
  value: string;
  ttl?: number;
}

export interface DnsProvider {
  upsertRecords(records: DnsRecord[]): Promise<void>;
  removeRecords(records: Pick<DnsRecord, 'siteId' | 'zone' | 'name' | 'type'>[]): Promise<void>;
  listRecords(siteId: string, zone?: string): Promise<DnsRecord[]>;
}

export const dnsCapability = defineCapability<DnsProvider>({
  id: 'dns',
  cardinality: 'one',
  description: 'Forward and reverse DNS records for machines',
});
