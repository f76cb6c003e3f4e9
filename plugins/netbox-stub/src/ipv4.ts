/**
 * The IPv4 arithmetic the NetBox stub needs to judge what NetBox hands back: dotted
 * quads as numbers, a CIDR's first and last address. Kept here because a plugin may
 * not reach into the kernel's own helpers.
 */
const octet = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const dottedQuad = new RegExp(`^${octet}(\\.${octet}){3}$`);

export function toNumber(address: string): number | undefined {
  if (!dottedQuad.test(address)) return undefined;
  return address.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

export function toAddress(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export interface Block {
  /** The network address, as a number. */
  first: number;
  /** The broadcast address, as a number. */
  last: number;
  prefixLength: number;
  /** `198.18.0.0/24`, host bits cleared. */
  cidr: string;
}

export function parseCidr(cidr: string): Block | undefined {
  const [address, length, extra] = String(cidr).split('/');
  const base = toNumber(address);
  const prefixLength = Number(length);
  if (base === undefined || extra !== undefined || !/^\d{1,2}$/.test(length ?? '') || prefixLength > 32) return undefined;
  const size = 2 ** (32 - prefixLength);
  const first = base - (base % size);
  return { first, last: first + size - 1, prefixLength, cidr: `${toAddress(first)}/${prefixLength}` };
}

/** `198.18.1.5/24` (how NetBox writes an address) → `198.18.1.5`. */
export function hostPart(address: string): string {
  return String(address).split('/')[0];
}
