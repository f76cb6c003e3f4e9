/**
 * IPv4 addresses as unsigned 32-bit integers (plain numbers, never bitwise operators,
 * so nothing turns negative above 128.0.0.0) and CIDR blocks over them. Parsing is
 * strict: dotted quads without leading zeros, nothing else.
 */

export interface Ipv4Cidr {
  /** The network address as an integer. */
  network: number;
  prefix: number;
}

export interface Ipv4Interval {
  start: number;
  end: number;
}

const octet = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const dottedQuad = new RegExp(`^${octet}\\.${octet}\\.${octet}\\.${octet}$`);

export function parseIpv4(text: string): number | null {
  const m = dottedQuad.exec(text);
  if (!m) return null;
  return ((Number(m[1]) * 256 + Number(m[2])) * 256 + Number(m[3])) * 256 + Number(m[4]);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/**
 * `a.b.c.d/n` as written. `hostBitsSet` is true when the address is not the network
 * address of its prefix (198.18.0.5/24): callers decide whether that is an error.
 */
export function parseCidr(text: string): (Ipv4Cidr & { hostBitsSet: boolean }) | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const address = parseIpv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (address === null || !/^(3[0-2]|[12]?\d)$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  const network = address - (address % blockSize(prefix));
  return { network, prefix, hostBitsSet: network !== address };
}

export function formatCidr(cidr: Ipv4Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefix}`;
}

export function blockSize(prefix: number): number {
  return 2 ** (32 - prefix);
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
  return address >= cidr.network && address <= broadcastOf(cidr);
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
