/**
 * The `dhcp` service's settings (`services.dhcp` in the agent's config), checked all at
 * once so an operator sees every mistake in one error, with the defaults documented in
 * docs/dhcp.md.
 */
import { httpServiceDefaults, SproutError, type ProblemDetail, isIpv4 } from '@sprout/kernel/sdk';

export interface DhcpSettings {
  /** UDP port to listen on (67; 0 picks a free port, for tests). */
  port: number;
  /** Local address to bind (0.0.0.0: needed to receive broadcasts). */
  address: string;
  /** Local IPv4 addresses of the provisioning interfaces; empty means every local address. */
  interfaces: string[];
  /** Port replies to relays go to (67; tests point it at a relay simulator's port). */
  relayPort: number;
  /** Port replies to directly attached clients go to (68). */
  clientPort: number;
  /** Server identifier when no interface address lies in the client's network (relayed networks). */
  serverId?: string;
  /** next-server / option 66 for TFTP; defaults to the server identifier. */
  nextServer?: string;
  /** Base of the HTTP boot service iPXE is sent to; without it, see `httpService`. */
  httpBootUrl?: string;
  /** Where this agent's own `http` service listens (`services.http`), for iPXE when httpBootUrl is not set. */
  httpService: HttpServiceTarget;
  leaseSeconds: number;
  /** Lease given to PXE firmware (vendor class `PXEClient`), which only needs it to fetch its loader. */
  pxeLeaseSeconds: number;
  /** How long an offered address is held for the client's REQUEST. */
  offerSeconds: number;
  /** How long a DECLINEd address is kept out of service. */
  declineQuarantineSeconds: number;
  /** Client architecture (option 93) → boot file. */
  bootFiles: Record<number, string>;
  /** Outstanding offers to unknown MACs above which further unknown DISCOVERs are dropped. */
  maxPendingUnknownOffers: number;
}

export interface HttpServiceTarget {
  /** `services.http.baseUrl`: what the HTTP service itself tells machines. */
  baseUrl?: string;
  /** `services.http.address` when it is one IPv4 address; otherwise the server identifier is used. */
  host?: string;
  port: number;
}

/** The agent's `http` service settings → where machines reach it (defaults as that service has them). */
export function httpServiceTarget(http: Readonly<Record<string, unknown>> | undefined): HttpServiceTarget {
  const baseUrl = typeof http?.baseUrl === 'string' && /^https?:\/\/\S+$/.test(http.baseUrl) ? http.baseUrl.replace(/\/+$/, '') : undefined;
  const address = typeof http?.address === 'string' ? http.address : httpServiceDefaults.address;
  const port = typeof http?.port === 'number' && Number.isInteger(http.port) && http.port > 0 ? http.port : httpServiceDefaults.port;
  return { ...(baseUrl ? { baseUrl } : {}), ...(isIpv4(address) && address !== '0.0.0.0' ? { host: address } : {}), port };
}

export const defaultBootFiles: Record<number, string> = { 0: 'undionly.kpxe', 7: 'ipxe.efi', 9: 'ipxe.efi', 11: 'ipxe-arm64.efi' };

const known = new Set([
  'port',
  'address',
  'interfaces',
  'relayPort',
  'clientPort',
  'serverId',
  'nextServer',
  'httpBootUrl',
  'leaseSeconds',
  'pxeLeaseSeconds',
  'offerSeconds',
  'declineQuarantineSeconds',
  'bootFiles',
  'maxPendingUnknownOffers',
]);

/** `services` is every site service's settings in the agent's config; only `http` is read. */
export function parseDhcpSettings(raw: Record<string, unknown>, services?: Readonly<Record<string, Readonly<Record<string, unknown>>>>): DhcpSettings {
  // A misspelt key would otherwise silently fall back to its default.
  const problems: ProblemDetail[] = Object.keys(raw)
    .filter((key) => !known.has(key))
    .map((key) => ({ field: `services.dhcp.${key}`, message: `is not a dhcp setting; known: ${[...known].join(', ')}` }));
  const integer = (key: string, fallback: number, min: number, max: number): number => {
    const value = raw[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push({ field: `services.dhcp.${key}`, message: `must be an integer from ${min} to ${max}` });
      return fallback;
    }
    return value;
  };
  const address = (key: string): string | undefined => {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !isIpv4(value)) {
      problems.push({ field: `services.dhcp.${key}`, message: 'must be an IPv4 address' });
      return undefined;
    }
    return value;
  };
  const interfaces = raw.interfaces ?? [];
  if (!Array.isArray(interfaces) || interfaces.some((i) => typeof i !== 'string' || !isIpv4(i))) {
    problems.push({ field: 'services.dhcp.interfaces', message: 'must be a list of local IPv4 addresses' });
  }
  const bootFiles = { ...defaultBootFiles };
  if (raw.bootFiles !== undefined) {
    if (typeof raw.bootFiles !== 'object' || raw.bootFiles === null || Array.isArray(raw.bootFiles)) {
      problems.push({ field: 'services.dhcp.bootFiles', message: 'must map architecture numbers (option 93) to boot file names' });
    } else {
      for (const [arch, file] of Object.entries(raw.bootFiles)) {
        if (!/^\d{1,5}$/.test(arch) || Number(arch) > 0xffff || typeof file !== 'string' || file.length === 0 || file.length > 127) {
          problems.push({ field: `services.dhcp.bootFiles.${arch}`, message: 'must be an architecture number 0–65535 mapped to a file name of 1–127 bytes' });
        } else bootFiles[Number(arch)] = file;
      }
    }
  }
  const httpBootUrl = raw.httpBootUrl;
  if (httpBootUrl !== undefined && (typeof httpBootUrl !== 'string' || !/^https?:\/\/[^\s]+$/.test(httpBootUrl))) {
    problems.push({ field: 'services.dhcp.httpBootUrl', message: 'must be an http:// or https:// URL' });
  }
  const settings: DhcpSettings = {
    port: integer('port', 67, 0, 65535),
    address: address('address') ?? '0.0.0.0',
    interfaces: Array.isArray(interfaces) ? interfaces.filter((i): i is string => typeof i === 'string') : [],
    relayPort: integer('relayPort', 67, 1, 65535),
    clientPort: integer('clientPort', 68, 1, 65535),
    serverId: address('serverId'),
    nextServer: address('nextServer'),
    httpBootUrl: typeof httpBootUrl === 'string' ? httpBootUrl.replace(/\/+$/, '') : undefined,
    httpService: httpServiceTarget(services?.http),
    leaseSeconds: integer('leaseSeconds', 3600, 60, 7 * 24 * 3600),
    pxeLeaseSeconds: integer('pxeLeaseSeconds', 300, 30, 7 * 24 * 3600),
    offerSeconds: integer('offerSeconds', 30, 1, 600),
    declineQuarantineSeconds: integer('declineQuarantineSeconds', 600, 1, 7 * 24 * 3600),
    bootFiles,
    maxPendingUnknownOffers: integer('maxPendingUnknownOffers', 256, 1, 1_000_000),
  };
  if (problems.length > 0) {
    throw new SproutError('SPROUT_ERR_CONFIG', `the dhcp service's settings are invalid (${problems.length} problem${problems.length === 1 ? '' : 's'})`, {
      details: problems,
    });
  }
  return settings;
}
