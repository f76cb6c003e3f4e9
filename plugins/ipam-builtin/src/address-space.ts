/**
 * The queries that read a network's address space, done by PostgreSQL's own inet
 * arithmetic: offsets from the network address are bigints, so the search never
 * depends on how the client does 32-bit maths. Callers hold the network's lock.
 */
import type { Knex } from 'knex';
import type { IpamNetwork, KernelRead } from '@sprout/kernel/sdk';

/** Ranges and the gateway: the parts of a network no automatic allocation may use. */
function fencedOff(network: IpamNetwork): string {
  return JSON.stringify([
    ...network.ranges.map((r) => ({ kind: `${r.kind} range ${r.start}-${r.end}`, first_address: r.start, last_address: r.end })),
    { kind: 'gateway', first_address: network.gateway, last_address: network.gateway },
  ]);
}

/**
 * The lowest free host address, or null when the network is full. Every taken span
 * (network address, broadcast, ranges, gateway, allocations) is sorted by start; the
 * first span starting beyond what the spans before it cover leaves a gap, and the
 * gap's first address is the answer.
 *
 * An address whose lease may still be live at the site's agent (the kernel's copy of the
 * agent's leases, read through `ctx.read.leases`: bound and not expired) is taken too,
 * unless the lease is held by one of `machineId`'s own MACs: a released machine's
 * address is not handed to the next machine while the old one may still be using it
 * (the agent would refuse the newcomer's DISCOVERs until that lease ended).
 */
export async function firstFreeAddress(read: KernelRead, trx: Knex.Transaction, network: IpamNetwork, machineId?: string): Promise<string | null> {
  const leased = await read.leases.liveAddresses(trx, { siteId: network.siteId, cidr: network.cidr, exceptMachineId: machineId });
  const { rows } = await trx.raw(
    `with net as (select network(cast(? as cidr))::inet as base, broadcast(cast(? as cidr))::inet as top),
     taken(lo, hi) as (
       select 0::bigint, 0::bigint
       union all select top - base, top - base from net
       union all select r.first_address - base, r.last_address - base
         from net, jsonb_to_recordset(cast(? as jsonb)) as r(first_address inet, last_address inet)
       union all select a.address - base, a.address - base from net, ip_allocations a where a.network_id = ?
       union all select cast(l.address as inet) - base, cast(l.address as inet) - base from net, jsonb_array_elements_text(cast(? as jsonb)) as l(address)
     ),
     reach as (select lo, max(hi) over (order by lo, hi rows between unbounded preceding and 1 preceding) as covered from taken)
     select host(base + (covered + 1)) as address from net, reach where lo > covered + 1 order by lo limit 1`,
    [network.cidr, network.cidr, fencedOff(network), network.id, JSON.stringify(leased)],
  );
  return rows[0]?.address ?? null;
}

export interface AddressStanding {
  /** The address as PostgreSQL writes it. */
  address: string;
  /** A host address of the network: inside it, not its network or broadcast address. */
  host: boolean;
  /** What fences it off (the gateway, a range), if anything. */
  fencedBy: string | null;
}

export async function standingOf(trx: Knex.Transaction, network: IpamNetwork, address: string): Promise<AddressStanding> {
  const { rows } = await trx.raw(
    `with net as (select cast(? as cidr) as block, cast(? as inet) as wanted)
     select host(wanted) as address,
       wanted << block and host(wanted) not in (host(network(block)), host(broadcast(block))) as host,
       (select r.kind from jsonb_to_recordset(cast(? as jsonb)) as r(kind text, first_address inet, last_address inet)
         where wanted between r.first_address and r.last_address limit 1) as fenced_by
     from net`,
    [network.cidr, address, fencedOff(network)],
  );
  return { address: rows[0].address, host: rows[0].host === true, fencedBy: rows[0].fenced_by ?? null };
}
