/**
 * The DNS records a machine's address gets: an A record `<hostname>.<domain>` and the
 * matching PTR in the address's /24-aligned reverse zone. Pure and provider-neutral:
 * workflows build records here and hand them to whichever `dns` provider is active.
 * Names are lowercase, fully qualified, without the trailing dot.
 */
import { isIPv4 } from 'node:net';
import { SproutError } from '../errors/index.ts';
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

function octets(address: string): number[] {
  if (!isIPv4(address)) throw invalid('address', `${JSON.stringify(address)} is not an IPv4 address (reverse records are IPv4 only)`, address);
  return address.split('.').map(Number);
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
