/**
 * The DNS service's settings (`services.dns` in the agent's config), with defaults.
 * Every invalid field is reported at once, so an operator fixes the config in one pass.
 * SOA fields left out are derived per zone when the zones are built, never here.
 */
import { normaliseDnsName, SproutError, type ProblemDetail, isIpv4 } from '@sprout/kernel/sdk';

export interface SoaSettings {
  /** The primary nameserver named in every SOA; default: each zone's nameserver. */
  mname?: string;
  /** The zone contact as a DNS name (`hostmaster.lab.example`); default: `hostmaster.<zone>`. */
  rname?: string;
  refresh: number;
  retry: number;
  expire: number;
  /** TTL of negative answers (RFC 2308). */
  minimum: number;
}

export interface DnsSettings {
  port: number;
  address: string;
  /** TTL of records that carry none, and of SOA and NS. */
  ttl: number;
  /** The name NS records point at; default `ns1.<zone>` (reverse zones: `ns1.` of a forward zone they point into). */
  nameserver?: string;
  /** When set, `<nameserver>` gets this A record in its forward zone, so resolvers can find the agent. */
  nameserverAddress?: string;
  soa: SoaSettings;
  /**
   * Child processes that answer UDP queries besides the agent itself, on the same socket
   * and each from its own copy of the answers (0: the agent alone). One per spare core.
   */
  workers: number;
}

export const defaultDnsSettings: Readonly<DnsSettings> = Object.freeze({
  port: 53,
  address: '0.0.0.0',
  ttl: 300,
  workers: 0,
  soa: Object.freeze({ refresh: 3600, retry: 600, expire: 1_209_600, minimum: 60 }),
});

const maxTtl = 2_147_483_647;
const soaTimers = ['refresh', 'retry', 'expire', 'minimum'] as const;
const known = ['port', 'address', 'ttl', 'nameserver', 'nameserverAddress', 'soa', 'workers'];
const knownSoa = ['mname', 'rname', ...soaTimers];

export function parseDnsSettings(raw: Record<string, unknown>): DnsSettings {
  const problems: ProblemDetail[] = [];
  const problem = (field: string, message: string) => problems.push({ field: `services.dns.${field}`, message });
  const integer = (field: string, value: unknown, min: number, max: number): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    problem(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    return undefined;
  };
  const dnsName = (field: string, value: unknown): string | undefined => {
    if (value === undefined) return undefined;
    try {
      if (typeof value !== 'string') throw new Error();
      return normaliseDnsName(value, field);
    } catch {
      problem(field, `must be a DNS name, got ${JSON.stringify(value)}`);
      return undefined;
    }
  };

  const settings: DnsSettings = { ...defaultDnsSettings, soa: { ...defaultDnsSettings.soa } };
  settings.port = integer('port', raw.port, 0, 65535) ?? settings.port;
  settings.ttl = integer('ttl', raw.ttl, 0, maxTtl) ?? settings.ttl;
  settings.workers = integer('workers', raw.workers, 0, 64) ?? settings.workers;
  if (raw.address !== undefined) {
    if (typeof raw.address === 'string' && isIpv4(raw.address)) settings.address = raw.address;
    else problem('address', `must be an IPv4 address to listen on, got ${JSON.stringify(raw.address)}`);
  }
  const nameserver = dnsName('nameserver', raw.nameserver);
  if (nameserver) settings.nameserver = nameserver;
  if (raw.nameserverAddress !== undefined) {
    if (typeof raw.nameserverAddress === 'string' && isIpv4(raw.nameserverAddress)) settings.nameserverAddress = raw.nameserverAddress;
    else problem('nameserverAddress', `must be an IPv4 address, got ${JSON.stringify(raw.nameserverAddress)}`);
  }
  for (const name of Object.keys(raw)) {
    if (!known.includes(name)) problem(name, `is not a DNS setting; known: ${known.join(', ')}`);
  }

  if (raw.soa !== undefined) {
    if (typeof raw.soa !== 'object' || raw.soa === null || Array.isArray(raw.soa)) {
      problem('soa', `must be an object with ${knownSoa.join(', ')}, got ${JSON.stringify(raw.soa)}`);
    } else {
      const soa = raw.soa as Record<string, unknown>;
      for (const timer of soaTimers) settings.soa[timer] = integer(`soa.${timer}`, soa[timer], 0, maxTtl) ?? settings.soa[timer];
      const mname = dnsName('soa.mname', soa.mname);
      if (mname) settings.soa.mname = mname;
      const rname = dnsName('soa.rname', soa.rname);
      if (rname) settings.soa.rname = rname;
      for (const name of Object.keys(soa)) {
        if (!knownSoa.includes(name)) problem(`soa.${name}`, `is not an SOA setting; known: ${knownSoa.join(', ')}`);
      }
    }
  }

  if (problems.length > 0) {
    throw new SproutError('SPROUT_ERR_CONFIG', `services.dns has ${problems.length} invalid setting(s)`, { details: problems, context: { service: 'dns' } });
  }
  return settings;
}
