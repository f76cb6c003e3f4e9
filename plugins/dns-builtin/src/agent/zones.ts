/**
 * The zones the agent is authoritative for, read from the site's desired state: every
 * network's domain, every zone an A or PTR record names, with each zone's SOA and NS.
 * A record that is not a valid A/PTR inside its zone is set aside with the reason,
 * never served half-right.
 */
import { normaliseDnsName, type SiteDesiredState, isIpv4 } from '@sprout/kernel/sdk';
import type { DnsSettings } from './settings.ts';
import { enclosingZone } from './names.ts';

export { enclosingZone };

export interface ZoneRecord {
  zone: string;
  name: string;
  type: 'A' | 'PTR';
  value: string;
  ttl: number;
}

export interface Zone {
  name: string;
  /** The name the zone's NS record points at. */
  nameserver: string;
  mname: string;
  rname: string;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
  ttl: number;
}

export interface RejectedRecord {
  record: unknown;
  reason: string;
}

export interface ZoneSet {
  /** By zone name, lowercase without the trailing dot. */
  zones: Map<string, Zone>;
  /** Sorted and without duplicates, so equal content gives equal `zoneContent`. */
  records: ZoneRecord[];
  rejected: RejectedRecord[];
}

const reverseSuffix = '.in-addr.arpa';

function inside(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

export function zonesFor(state: SiteDesiredState, settings: DnsSettings): ZoneSet {
  const rejected: RejectedRecord[] = [];
  const zoneNames = new Set<string>();
  for (const network of state.networks ?? []) {
    if (!network.domain) continue;
    try {
      zoneNames.add(normaliseDnsName(network.domain, 'domain'));
    } catch (err) {
      rejected.push({ record: { network: network.name, domain: network.domain }, reason: (err as Error).message });
    }
  }

  const unique = new Map<string, ZoneRecord>();
  for (const record of state.dnsRecords ?? []) {
    try {
      const zone = normaliseDnsName(record.zone, 'zone');
      const name = normaliseDnsName(record.name, 'name');
      if (!inside(name, zone)) throw new Error(`${name} is not inside zone ${zone}`);
      let value: string;
      if (record.type === 'A') {
        if (!isIpv4(record.value)) throw new Error(`${JSON.stringify(record.value)} is not an IPv4 address`);
        value = record.value;
      } else if (record.type === 'PTR') {
        value = normaliseDnsName(record.value, 'value');
      } else {
        throw new Error(`${JSON.stringify(record.type)} is not a record type the agent serves (A, PTR)`);
      }
      const ttl = record.ttl ?? settings.ttl;
      if (!Number.isInteger(ttl) || ttl < 0 || ttl > 2_147_483_647) throw new Error(`${ttl} is not a TTL in seconds`);
      zoneNames.add(zone);
      const served: ZoneRecord = { zone, name, type: record.type, value, ttl };
      unique.set(`${name} ${record.type} ${value}`, served);
    } catch (err) {
      rejected.push({ record, reason: (err as Error).message });
    }
  }

  const forwardZones = [...zoneNames].filter((z) => !z.endsWith(reverseSuffix)).sort();
  const records = [...unique.values()];
  const zones = new Map<string, Zone>();
  for (const name of [...zoneNames].sort()) {
    const nameserver = settings.nameserver ?? `ns1.${nameserverZone(name, records, forwardZones)}`;
    zones.set(name, {
      name,
      nameserver,
      mname: settings.soa.mname ?? nameserver,
      rname: settings.soa.rname ?? `hostmaster.${name}`,
      refresh: settings.soa.refresh,
      retry: settings.soa.retry,
      expire: settings.soa.expire,
      minimum: settings.soa.minimum,
      ttl: settings.ttl,
    });
  }

  // Glue: without an address for the nameserver's name, resolvers told "ns1.lab.example"
  // could not reach the agent through the zone itself.
  if (settings.nameserverAddress) {
    for (const nameserver of new Set([...zones.values()].map((z) => z.nameserver))) {
      const zone = enclosingZone(nameserver, zones);
      if (zone && !records.some((r) => r.name === nameserver && r.type === 'A')) {
        records.push({ zone, name: nameserver, type: 'A', value: settings.nameserverAddress, ttl: settings.ttl });
      }
    }
  }

  records.sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.type < b.type ? -1 : a.type > b.type ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0,
  );
  return { zones, records, rejected };
}

/**
 * A forward zone's nameserver is `ns1.<zone>`. A reverse zone has no host names of its
 * own, so its nameserver is `ns1.` of the first forward zone its PTRs point into (or any
 * forward zone), and only without any forward zone `ns1.<reverse zone>`.
 */
function nameserverZone(zone: string, records: ZoneRecord[], forwardZones: string[]): string {
  if (!zone.endsWith(reverseSuffix)) return zone;
  const targets = records.filter((r) => r.type === 'PTR' && r.zone === zone).map((r) => r.value);
  return forwardZones.find((f) => targets.some((t) => inside(t, f))) ?? forwardZones[0] ?? zone;
}

/** Everything that is served, as text: the serial moves on exactly when this changes. */
export function zoneContent(set: ZoneSet): string {
  const lines: string[] = [];
  for (const z of set.zones.values())
    lines.push(`zone ${z.name} ns=${z.nameserver} ${z.mname} ${z.rname} ${z.refresh} ${z.retry} ${z.expire} ${z.minimum} ${z.ttl}`);
  for (const r of set.records) lines.push(`${r.name} ${r.ttl} ${r.type} ${r.value} (${r.zone})`);
  return `${lines.join('\n')}\n`;
}
