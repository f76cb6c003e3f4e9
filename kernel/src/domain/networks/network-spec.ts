/**
 * Whether a network definition holds together on its own: a CIDR without host bits, a
 * gateway and ranges inside it, ranges that do not overlap. Every problem is reported
 * at once, each naming its body field. Overlaps with other networks need the database
 * and are checked by the service.
 */
import { SproutError, type ProblemDetail } from '../../errors/index.ts';
import { isUuid } from '../sites/find-site.ts';
import {
  formatCidr,
  formatIpv4,
  intervalContains,
  intervalsOverlap,
  parseCidr,
  parseIpv4,
  usableHostsOf,
  type Ipv4Cidr,
  type Ipv4Interval,
} from '../../net/ipv4.ts';
import type { AddressRange } from './schemas.ts';

export interface NetworkSpecInput {
  name: string;
  cidr: string;
  gateway: string;
  ranges?: AddressRange[];
}

export interface ParsedRange extends Ipv4Interval {
  kind: AddressRange['kind'];
  /** Index in the request, to name the field. */
  index: number;
}

export interface NetworkSpec {
  cidr: Ipv4Cidr;
  gateway: number;
  /** Sorted by start address. */
  ranges: ParsedRange[];
}

/** The smallest block that still has room for a gateway and one machine. */
const longestPrefix = 30;

export function parseNetworkSpec(input: NetworkSpecInput): NetworkSpec {
  const problems: ProblemDetail[] = [];
  if (isUuid(input.name)) problems.push({ field: 'body/name', message: 'must not look like a UUID: networks are found by id or name' });

  const cidr = parseCidr(input.cidr);
  if (!cidr) {
    problems.push({ field: 'body/cidr', message: `"${input.cidr}" is not an IPv4 CIDR like 198.18.0.0/24` });
  } else if (cidr.hostBitsSet) {
    problems.push({ field: 'body/cidr', message: `${input.cidr} has host bits set; the network address of that block is ${formatCidr(cidr)}` });
  } else if (cidr.prefix > longestPrefix) {
    problems.push({ field: 'body/cidr', message: `/${cidr.prefix} leaves no room for a gateway and a machine; use /${longestPrefix} or shorter` });
  }
  const usable = cidr && !cidr.hostBitsSet && cidr.prefix <= longestPrefix ? usableHostsOf(cidr) : undefined;
  const where = cidr ? formatCidr(cidr) : input.cidr;

  const gateway = parseIpv4(input.gateway);
  if (gateway === null) problems.push({ field: 'body/gateway', message: `"${input.gateway}" is not an IPv4 address` });
  else if (usable && !intervalContains(usable, gateway))
    problems.push({ field: 'body/gateway', message: `${input.gateway} is not a host address of ${where}${hostRange(usable)}` });

  const ranges: ParsedRange[] = [];
  for (const [index, range] of (input.ranges ?? []).entries()) {
    const field = `body/ranges/${index}`;
    const start = parseIpv4(range.start);
    const end = parseIpv4(range.end);
    if (start === null || end === null) {
      if (start === null) problems.push({ field: `${field}/start`, message: `"${range.start}" is not an IPv4 address` });
      if (end === null) problems.push({ field: `${field}/end`, message: `"${range.end}" is not an IPv4 address` });
    } else if (start > end) {
      problems.push({ field, message: `starts at ${range.start}, after its end ${range.end}` });
    } else if (usable && !(intervalContains(usable, start) && intervalContains(usable, end))) {
      problems.push({ field, message: `${range.start}-${range.end} is not inside the host addresses of ${where}${hostRange(usable)}` });
    } else {
      ranges.push({ kind: range.kind, start, end, index });
    }
  }

  ranges.sort((a, b) => a.start - b.start);
  for (let i = 1; i < ranges.length; i++) {
    const [a, b] = [ranges[i - 1], ranges[i]];
    if (intervalsOverlap(a, b)) {
      problems.push({ field: `body/ranges/${b.index}`, message: `${describe(b)} overlaps ${describe(a)} (ranges/${a.index})` });
    }
  }
  if (gateway !== null) {
    const holder = ranges.find((r) => intervalContains(r, gateway));
    if (holder)
      problems.push({
        field: 'body/gateway',
        message: `${input.gateway} is inside ${describe(holder)} (ranges/${holder.index}); the gateway must stay outside ranges`,
      });
  }

  if (problems.length > 0) {
    throw new SproutError('SPROUT_ERR_VALIDATION', `network ${input.name} is invalid: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, {
      details: problems,
    });
  }
  return { cidr: cidr!, gateway: gateway!, ranges };
}

function hostRange(usable: Ipv4Interval): string {
  return ` (${formatIpv4(usable.start)}-${formatIpv4(usable.end)})`;
}

function describe(range: ParsedRange): string {
  return `${range.kind} range ${formatIpv4(range.start)}-${formatIpv4(range.end)}`;
}
