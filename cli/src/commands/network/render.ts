/** How networks and allocations read in a terminal. */
import { parseIpv4, table, type ApiSchemas } from '@sprout/kernel/cli';

/** A network as the API answers it; `network show` adds its utilisation. */
export type Network = ApiSchemas['schemas']['Network'] & { utilisation?: ApiSchemas['schemas']['NetworkUtilisation'] };
export type AddressRange = Network['ranges'][number];
export type Allocation = ApiSchemas['schemas']['Allocation'];

export function networkTable(items: Network[]): string {
  return table(
    ['NAME', 'SITE', 'CIDR', 'GATEWAY', 'VLAN', 'PXE', 'DOMAIN', 'RANGES'],
    items.map((n) => [
      n.name,
      n.site.name,
      n.cidr,
      n.gateway,
      n.vlan,
      n.pxe ? 'yes' : 'no',
      n.domain,
      n.ranges.map((r) => `${r.kind} ${r.start}-${r.end}`).join(', '),
    ]),
  );
}

export function networkDetails(n: Network): string {
  const lines = [
    `${n.name}  ${n.cidr}  (site ${n.site.name})`,
    '',
    `id:           ${n.id}`,
    `gateway:      ${n.gateway}`,
    `dns servers:  ${n.dnsServers.join(' ') || '-'}`,
    `domain:       ${n.domain ?? '-'}`,
    `vlan:         ${n.vlan ?? '-'}`,
    `pxe:          ${n.pxe ? 'yes' : 'no'}`,
    `ranges:       ${n.ranges.length === 0 ? '-' : ''}`,
  ];
  for (const r of n.ranges) lines.push(`  ${r.kind.padEnd(8)}  ${`${r.start}-${r.end}`.padEnd(31)}  ${addressCount(r)} addresses`);
  const u = n.utilisation;
  if (u) {
    const used = u.total === 0 ? 0 : Math.round(((u.total - u.free) / u.total) * 100);
    lines.push(
      '',
      'utilisation:',
      table(['USABLE', 'ALLOCATED', 'DYNAMIC', 'RESERVED', 'GATEWAY', 'FREE', 'USED'], [[u.total, u.allocated, u.dynamic, u.reserved, 1, u.free, `${used}%`]]),
    );
  }
  return lines.join('\n');
}

export function allocationTable(items: Allocation[]): string {
  return table(
    ['ADDRESS', 'HOSTNAME', 'MACHINE', 'INTERFACE', 'PROVIDER', 'ID'],
    items.map((a) => [a.address, a.hostname, a.machineHostname ?? a.machineId, a.interfaceName ?? a.interfaceId, a.provider, a.id]),
  );
}

function addressCount(r: AddressRange): number {
  return (parseIpv4(r.end) ?? 0) - (parseIpv4(r.start) ?? 0) + 1;
}
