/**
 * IPv4 addresses as 32-bit numbers for the DHCP server's range and subnet arithmetic.
 * Parsing is strict: anything that is not dotted-quad decimal is refused, never guessed.
 */

/** `198.18.30.7` → 0xc6121e07; throws on anything else. */
export function ipToInt(address: string): number {
  const parts = address.split('.');
  if (parts.length !== 4) throw new TypeError(`${JSON.stringify(address)} is not an IPv4 address`);
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) throw new TypeError(`${JSON.stringify(address)} is not an IPv4 address`);
    value = value * 256 + Number(part);
  }
  return value >>> 0;
}

export function intToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

export interface Subnet {
  network: number;
  prefix: number;
  mask: number;
  broadcast: number;
}

/** `198.18.30.0/24` → network, mask and broadcast as numbers. */
export function parseCidr(cidr: string): Subnet {
  const [address, length] = cidr.split('/');
  const prefix = Number(length);
  if (address === undefined || !/^\d{1,2}$/.test(length ?? '') || prefix > 32) throw new TypeError(`${JSON.stringify(cidr)} is not an IPv4 CIDR`);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (ipToInt(address) & mask) >>> 0;
  return { network, prefix, mask, broadcast: (network | (~mask >>> 0)) >>> 0 };
}

export function subnetContains(subnet: Subnet, address: number): boolean {
  return ((address & subnet.mask) >>> 0) === subnet.network;
}
