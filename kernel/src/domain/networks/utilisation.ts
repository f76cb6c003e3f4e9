/**
 * How full a network is. Allocations never fall inside ranges or on the gateway (IPAM
 * refuses those), so the counts are disjoint and `free` is exact.
 */
import { intervalSize, usableHostsOf, type Ipv4Cidr, type Ipv4Interval } from '../../net/ipv4.ts';
import type { Utilisation } from './schemas.ts';

export function utilisationOf(network: { cidr: Ipv4Cidr; ranges: (Ipv4Interval & { kind: 'dynamic' | 'reserved' })[] }, allocated: number): Utilisation {
  const total = usableHostsOf(network.cidr).count;
  const sizeOf = (kind: 'dynamic' | 'reserved') => network.ranges.filter((r) => r.kind === kind).reduce((sum, r) => sum + intervalSize(r), 0);
  const dynamic = sizeOf('dynamic');
  const reserved = sizeOf('reserved');
  const gateway = 1;
  return { total, allocated, dynamic, reserved, free: total - allocated - dynamic - reserved - gateway };
}
