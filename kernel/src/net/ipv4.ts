/**
 * IPv4 addresses as unsigned 32-bit integers and CIDR blocks over them: the one rule
 * every package uses (the kernel's networks, the DHCP responder, the DNS server, the
 * stubs, the CLI), exported by the light SDK.
 *
 * Parsing is strict: exactly four dotted decimal parts, each 0–255, without leading
 * zeros (`010.0.0.1` is refused: some tools read it as octal), nothing around it. Values
 * are plain non-negative numbers (0 … 2³²−1); arithmetic here never lets them turn
 * negative. `parseIpv4`, `formatIpv4` and `cidrContains` allocate nothing beyond the
 * result string, so the DHCP responder and the DNS server can call them per packet.
 */

export interface Ipv4Cidr {
  /** The network address as an integer. */
  network: number;
  prefix: number;
}

/** A parsed block: its network address, prefix length, netmask and broadcast address. */
export interface Ipv4Subnet extends Ipv4Cidr {
  mask: number;
  broadcast: number;
}

export interface Ipv4Interval {
  start: number;
  end: number;
}

const octetPattern = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
/** The same rule as `parseIpv4`, as a JSON-schema `pattern` (for config and route schemas). */
export const ipv4Pattern = `^${octetPattern}(\\.${octetPattern}){3}$`;
/** The same rule as `parseCidr`, as a JSON-schema `pattern`. */
export const ipv4CidrPattern = `^${octetPattern}(\\.${octetPattern}){3}/(3[0-2]|[12]?\\d)$`;

const dot = 46;
const zeroChar = 48;
const nineChar = 57;

/** `198.18.0.1` → 3323068417; `null` for anything that is not a strict dotted quad. */
export function parseIpv4(text: string): number | null {
  if (typeof text !== 'string') return null;
  const length = text.length;
  if (length < 7 || length > 15) return null;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === dot) {
      if (digits === 0 || dots === 3) return null;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= zeroChar && c <= nineChar) {
      if (digits > 0 && octet === 0) return null; // a leading zero
      octet = octet * 10 + (c - zeroChar);
      if (octet > 255) return null;
      digits++;
    } else {
      return null;
    }
  }
  if (dots !== 3 || digits === 0) return null;
  return value * 256 + octet;
}

export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== null;
}

/** As `parseIpv4`, but throws a TypeError naming `what` (for callers that cannot go on without it). */
export function ipv4ToInt(text: string, what = 'address'): number {
  const value = parseIpv4(text);
  if (value === null) throw new TypeError(`${what} ${JSON.stringify(text)} is not an IPv4 address`);
  return value;
}

/** 3323068417 → `198.18.0.1`. Takes any integer in 0 … 2³²−1. */
export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

export function blockSize(prefix: number): number {
  return 2 ** (32 - prefix);
}

/** The netmask of a prefix length as an integer: 24 → 0xffffff00. */
export function maskOf(prefix: number): number {
  return 2 ** 32 - blockSize(prefix);
}

/**
 * `a.b.c.d/n` as written (strict address, prefix 0–32 without leading zeros). The
 * network address is the address with its host bits cleared; `hostBitsSet` is true
 * when they were not (198.18.0.5/24): callers decide whether that is an error.
 */
export function parseCidr(text: string): (Ipv4Subnet & { hostBitsSet: boolean }) | null {
  if (typeof text !== 'string') return null;
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const address = parseIpv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (address === null || !/^(3[0-2]|[12]?\d)$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  const size = blockSize(prefix);
  const network = address - (address % size);
  return { network, prefix, mask: 2 ** 32 - size, broadcast: network + size - 1, hostBitsSet: network !== address };
}

export function formatCidr(cidr: Ipv4Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefix}`;
}

export function broadcastOf(cidr: Ipv4Cidr): number {
  return cidr.network + blockSize(cidr.prefix) - 1;
}

/** Addresses a host may use: the block without its network and broadcast address. */
export function usableHostsOf(cidr: Ipv4Cidr): Ipv4Interval & { count: number } {
  const count = Math.max(0, blockSize(cidr.prefix) - 2);
  return { start: cidr.network + 1, end: broadcastOf(cidr) - 1, count };
}

export function cidrContains(cidr: Ipv4Cidr, address: number): boolean {
  return address >= cidr.network && address <= cidr.network + blockSize(cidr.prefix) - 1;
}

export function intervalContains(interval: Ipv4Interval, address: number): boolean {
  return address >= interval.start && address <= interval.end;
}

export function intervalsOverlap(a: Ipv4Interval, b: Ipv4Interval): boolean {
  return a.start <= b.end && b.start <= a.end;
}

export function intervalSize(interval: Ipv4Interval): number {
  return interval.end - interval.start + 1;
}

/** Compares two dotted quads by address (for sorting); unparseable ones sort first. */
export function compareIpv4(a: string, b: string): number {
  return (parseIpv4(a) ?? -1) - (parseIpv4(b) ?? -1);
}
