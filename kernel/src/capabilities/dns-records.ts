/**
 * The DNS records a machine's address gets: an A record `<hostname>.<domain>` and the
 * matching PTR in the address's /24-aligned reverse zone. Pure and provider-neutral:
 * workflows build records here and hand them to whichever `dns` provider is active.
 * Names are lowercase, fully qualified, without the trailing dot.
 */
import { SproutError } from '../errors/index.ts';
import { isIpv4, parseIpv4 } from '../net/ipv4.ts';
import type { DnsRecord } from './dns.ts';

const dnsLabel = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const maxTtl = 2_147_483_647;

function invalid(field: string, message: string, value: unknown): SproutError {
  return new SproutError('SPROUT_ERR_VALIDATION', `${field}: ${message}`, { details: [{ field, message }], context: { [field]: value } });
}

/** Lowercase without the trailing dot; refuses anything that is not a DNS name of LDH labels. */
export function normaliseDnsName(name: string, field = 'name'): string {
  const normalised = String(name).trim().toLowerCase().replace(/\.$/, '');
  if (normalised.length === 0 || normalised.length > 253 || !normalised.split('.').every((l) => dnsLabel.test(l))) {
    throw invalid(field, `${JSON.stringify(name)} is not a DNS name`, name);
  }
  return normalised;
}

function octets(address: string): [number, number, number, number] {
  const value = parseIpv4(address);
  if (value === null) throw invalid('address', `${JSON.stringify(address)} is not an IPv4 address (reverse records are IPv4 only)`, address);
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
}

/** `198.18.0.2` → `0.18.198.in-addr.arpa`: the /24 reverse zone the address's PTR lives in. */
export function reverseZoneFor(address: string): string {
  const [a, b, c] = octets(address);
  return `${c}.${b}.${a}.in-addr.arpa`;
}

/** `198.18.0.2` → `2.0.18.198.in-addr.arpa`. */
export function reverseNameFor(address: string): string {
  const [a, b, c, d] = octets(address);
  return `${d}.${c}.${b}.${a}.in-addr.arpa`;
}

export interface AddressRecordsRequest {
  siteId: string;
  /** The machine's hostname: one DNS label, not a dotted name. */
  hostname: string;
  /** The network's domain, e.g. `lab.example`. */
  domain: string;
  address: string;
  ttl?: number;
}

/** The A record and the matching PTR record for one machine address, in that order. */
export function recordsForAddress({ siteId, hostname, domain, address, ttl }: AddressRecordsRequest): [DnsRecord, DnsRecord] {
  const host = String(hostname).trim().toLowerCase();
  if (!dnsLabel.test(host)) throw invalid('hostname', `${JSON.stringify(hostname)} is not a single DNS label`, hostname);
  const zone = normaliseDnsName(domain, 'domain');
  const fqdn = normaliseDnsName(`${host}.${zone}`, 'hostname');
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 0 || ttl > maxTtl)) throw invalid('ttl', `${ttl} is not a TTL in seconds (0–${maxTtl})`, ttl);
  const ptrName = reverseNameFor(address);
  const withTtl = ttl === undefined ? {} : { ttl };
  return [
    { siteId, zone, name: fqdn, type: 'A', value: address, ...withTtl },
    { siteId, zone: reverseZoneFor(address), name: ptrName, type: 'PTR', value: fqdn, ...withTtl },
  ];
}

/**
 * Whether a record is one `recordsForAddress` made for the machine `hostname`: an A
 * record named `<hostname>.<domain>` or a PTR record pointing at `<hostname>.<domain>`,
 * in any domain. What removing a machine from its site removes. A PTR's own name
 * (`2.0.18.198.in-addr.arpa`) never counts, so a numeric hostname (`2`) cannot claim
 * another machine's reverse record.
 */
export function isRecordOwnedBy(record: Pick<DnsRecord, 'name' | 'type' | 'value'>, hostname: string): boolean {
  const prefix = `${String(hostname).trim().toLowerCase()}.`;
  if (prefix === '.') return false;
  const owner = record.type === 'A' ? record.name : record.type === 'PTR' ? record.value : '';
  return owner.toLowerCase().startsWith(prefix);
}

/** The records of `records` the machine `hostname` owns (see isRecordOwnedBy). */
export function recordsOwnedBy<R extends Pick<DnsRecord, 'name' | 'type' | 'value'>>(records: readonly R[], hostname: string): R[] {
  return records.filter((record) => isRecordOwnedBy(record, hostname));
}

/** What identifies a record: a provider keeps at most one value set per key. */
export type DnsRecordKey = Pick<DnsRecord, 'siteId' | 'zone' | 'name' | 'type'>;

function invalidRecord(field: string, message: string, record: unknown): SproutError {
  return new SproutError('SPROUT_ERR_VALIDATION', `DNS record ${field}: ${message}`, { details: [{ field, message }], context: { record } });
}

/**
 * What every `dns` provider accepts, so all of them refuse the same records in the same
 * words: A or PTR, a name inside its zone, names lowercase without the trailing dot.
 */
export function normaliseRecordKey(key: DnsRecordKey): DnsRecordKey {
  if (key.type !== 'A' && key.type !== 'PTR') throw invalidRecord('type', `${JSON.stringify(key.type)} is not a supported record type (A, PTR)`, key);
  const zone = normaliseDnsName(key.zone, 'zone');
  const name = normaliseDnsName(key.name, 'name');
  if (name !== zone && !name.endsWith(`.${zone}`)) throw invalidRecord('name', `${name} is not inside zone ${zone}`, key);
  return { siteId: key.siteId, zone, name, type: key.type };
}

/** A record's key as above, an A value that is an IPv4 address or a PTR value that is a DNS name, and a TTL in range. */
export function normaliseRecord(record: DnsRecord): DnsRecord {
  const key = normaliseRecordKey(record);
  let value: string;
  if (record.type === 'A') {
    if (!isIpv4(record.value)) throw invalidRecord('value', `${JSON.stringify(record.value)} is not an IPv4 address`, record);
    value = record.value;
  } else {
    value = normaliseDnsName(record.value, 'value');
  }
  const { ttl } = record;
  if (ttl !== undefined && ttl !== null && (!Number.isInteger(ttl) || ttl < 0 || ttl > maxTtl)) {
    throw invalidRecord('ttl', `${ttl} is not a TTL in seconds (0–${maxTtl})`, record);
  }
  return { ...key, value, ...(ttl === undefined || ttl === null ? {} : { ttl }) };
}
