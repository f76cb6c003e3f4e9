/**
 * What the PowerDNS stub accepts, checked for a whole batch before anything is sent:
 * A or PTR records whose name lies inside their zone, A values that are IPv4 addresses
 * and PTR values that are DNS names. Names are lowercase without the trailing dot here
 * and canonical (with it) on the wire.
 */
import { isIPv4 } from 'node:net';
import { normaliseDnsName, SproutError, type DnsRecord } from '@sprout/kernel';

export type DnsRecordKey = Pick<DnsRecord, 'siteId' | 'zone' | 'name' | 'type'>;

const maxTtl = 2_147_483_647;

function invalid(field: string, message: string, record: unknown): SproutError {
  return new SproutError('SPROUT_ERR_VALIDATION', `DNS record ${field}: ${message}`, { details: [{ field, message }], context: { record } });
}

export function normaliseRecordKey(key: DnsRecordKey): DnsRecordKey {
  if (key.type !== 'A' && key.type !== 'PTR') throw invalid('type', `${JSON.stringify(key.type)} is not a supported record type (A, PTR)`, key);
  const zone = normaliseDnsName(key.zone, 'zone');
  const name = normaliseDnsName(key.name, 'name');
  if (name !== zone && !name.endsWith(`.${zone}`)) throw invalid('name', `${name} is not inside zone ${zone}`, key);
  return { siteId: key.siteId, zone, name, type: key.type };
}

export function normaliseRecord(record: DnsRecord): DnsRecord {
  const key = normaliseRecordKey(record);
  let value: string;
  if (record.type === 'A') {
    if (!isIPv4(record.value)) throw invalid('value', `${JSON.stringify(record.value)} is not an IPv4 address`, record);
    value = record.value;
  } else {
    value = normaliseDnsName(record.value, 'value');
  }
  const { ttl } = record;
  if (ttl !== undefined && ttl !== null && (!Number.isInteger(ttl) || ttl < 0 || ttl > maxTtl)) throw invalid('ttl', `${ttl} is not a TTL in seconds (0–${maxTtl})`, record);
  return { ...key, value, ...(ttl === undefined || ttl === null ? {} : { ttl }) };
}

/** `lab.example` → `lab.example.` */
export const canonical = (name: string) => `${name}.`;
