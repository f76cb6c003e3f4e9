/**
 * A BMC address for IPMI over LAN: `host` or `host:port` (UDP, 623 by default), the host
 * an IPv4 address, an IPv6 address in brackets, or a DNS name. Checked when a machine's
 * BMC is recorded, so a typo fails there and not at the first power-on.
 */
import { isIPv4, isIPv6 } from 'node:net';

export const defaultIpmiPort = 623;

export interface IpmiEndpoint {
  /** As ipmitool's -H takes it: IPv6 without brackets. */
  host: string;
  port: number;
}

const dnsName = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/** Splits and checks an address: the endpoint, or what is wrong with it. */
export function parseIpmiAddress(address: string): IpmiEndpoint | { problem: string } {
  const shape = 'must be host or host:port (an IPv4 address, [IPv6] in brackets, or a DNS name)';
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::([^:]*))?$/.exec(address);
  if (!match) {
    return { problem: isIPv6(address) ? `an IPv6 address goes in brackets: [${address}]` : shape };
  }
  const [, v6, name, portText] = match;
  let port = defaultIpmiPort;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) return { problem: `port "${portText}" must be a number from 1 to 65535 (${shape})` };
  }
  if (v6 !== undefined) return isIPv6(v6) ? { host: v6, port } : { problem: `"${v6}" in brackets is not an IPv6 address (${shape})` };
  if (!name) return { problem: shape };
  if (/^[\d.]+$/.test(name)) return isIPv4(name) ? { host: name, port } : { problem: `"${name}" is not an IPv4 address (${shape})` };
  return dnsName.test(name) ? { host: name, port } : { problem: `"${name}" is not a host name (${shape})` };
}

/** The capability's `checkAddress`: a problem, or undefined when the address is fine. */
export function checkIpmiAddress(address: string): string | undefined {
  const parsed = parseIpmiAddress(address);
  return 'problem' in parsed ? parsed.problem : undefined;
}
