/**
 * Provisioning networks (kernel-owned: CIDR, gateway, DNS, VLAN, ranges) and the
 * addresses allocated in them through the `ipam` capability. The kernel never picks an
 * address itself: whichever provider is active does, so the same calls work with any.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { IpamNetwork, IpamProvider, IpAllocation } from '../../capabilities/ipam.ts';
import { SproutError, isSproutError } from '../../errors/index.ts';
import type { KernelHooks } from '../../hooks/hooks.ts';
import { findMachine, type InterfaceRow, type MachineRow } from '../machines/find-machine.ts';
import { findSite, isUuid } from '../sites/find-site.ts';
import { formatCidr, formatIpv4, intervalContains, parseCidr, parseIpv4 } from '../../net/ipv4.ts';
import { parseMac } from '../../net/mac.ts';
import { parseNetworkSpec, type NetworkSpec } from './network-spec.ts';
import type { AddressRange, AllocateBody, CreateNetworkBody, Network, UpdateNetworkBody, Utilisation } from './schemas.ts';
import { utilisationOf } from './utilisation.ts';
import { preparedRows } from '../../store/prepared-statement.ts';

export interface NetworkServiceDeps {
  db: Knex;
  /** `networkRemoving` runs in the deleting transaction. */
  hooks: Pick<KernelHooks, 'networkRemoving'>;
  ipam: () => Promise<IpamProvider>;
  /** Plugin id of the active IPAM provider, for the audit trail. */
  ipamProviderId: () => string;
}

type Db = Knex | Knex.Transaction;

interface NetworkRow {
  id: string;
  site_id: string;
  site_name: string;
  name: string;
  cidr: string;
  gateway: string;
  dns_servers: string[];
  domain: string | null;
  vlan: number | null;
  pxe: boolean;
  ranges: AddressRange[];
  created_at: Date | string;
  updated_at: Date | string;
}

/** Which network a request means: an id, or a name that `site` disambiguates. */
export interface NetworkRef {
  network: string;
  site?: string;
}

/** An allocation or release as it happened, with the provider that served it (for the audit trail). */
export interface AddressChange {
  network: Network;
  allocation: IpAllocation;
  provider: string;
}

/** A network before and after an update, with the fields that changed (old/new, for the audit trail). */
export interface NetworkChange {
  before: Network;
  after: Network;
  changes: Record<string, { old: unknown; new: unknown }>;
}

const uniqueViolation = '23505';

export class NetworkService {
  constructor(private readonly deps: NetworkServiceDeps) {}

  /** Plugin id of the active IPAM provider. */
  ipamProviderId(): string {
    return this.deps.ipamProviderId();
  }

  /**
   * Creates a network. The site row is locked first, so two overlapping networks
   * created at once cannot both pass the overlap check.
   */
  async create(input: CreateNetworkBody, trx: Knex.Transaction): Promise<Network> {
    const spec = parseNetworkSpec(input);
    const site = await findSite(trx, input.site, { forUpdate: true });
    const cidr = formatCidr(spec.cidr);
    await refuseTakenName(trx, site, input.name);
    await refuseOverlap(trx, site, cidr);
    const id = randomUUID();
    try {
      await trx('networks').insert({
        id,
        site_id: site.id,
        name: input.name,
        cidr,
        gateway: formatIpv4(spec.gateway),
        dns_servers: JSON.stringify(input.dnsServers ?? []),
        domain: normaliseDomain(input.domain),
        vlan: input.vlan ?? null,
        pxe: input.pxe ?? true,
        ranges: JSON.stringify(storedRanges(spec)),
      });
    } catch (err) {
      if ((err as { code?: string }).code === uniqueViolation)
        throw new SproutError('SPROUT_ERR_CONFLICT', `site ${site.name} already has a network named ${input.name}`, { cause: err });
      throw err;
    }
    return toNetwork(await this.row({ network: id }, trx));
  }

  /**
   * Changes a network with the checks `create` makes on the whole result (the stored
   * fields stand in for those not given), and refuses what would strand an allocation:
   * a new CIDR while any exists, a new gateway or range on an allocated address. The
   * site row is locked (overlaps, as in `create`), then the network row, which
   * allocations share-lock, so none slips in between the check and the change.
   */
  async update(ref: NetworkRef, input: UpdateNetworkBody, trx: Knex.Transaction): Promise<NetworkChange> {
    const found = await this.row(ref, trx);
    const site = await findSite(trx, found.site_id, { forUpdate: true });
    await trx('networks').where({ id: found.id }).forUpdate().first('id');
    const row = await this.row({ network: found.id }, trx);
    const before = toNetwork(row);
    const name = input.name ?? row.name;
    const spec = parseNetworkSpec({ name, cidr: input.cidr ?? row.cidr, gateway: input.gateway ?? row.gateway, ranges: input.ranges ?? row.ranges });
    const cidr = formatCidr(spec.cidr);
    const next = {
      name,
      cidr,
      gateway: formatIpv4(spec.gateway),
      dnsServers: input.dnsServers ?? before.dnsServers,
      domain: input.domain === undefined ? before.domain : normaliseDomain(input.domain),
      vlan: input.vlan === undefined ? before.vlan : input.vlan,
      pxe: input.pxe ?? before.pxe,
      ranges: storedRanges(spec),
    };
    const changes: Record<string, { old: unknown; new: unknown }> = {};
    for (const key of Object.keys(next) as (keyof typeof next)[]) {
      if (canonical(next[key]) !== canonical(before[key])) changes[key] = { old: before[key], new: next[key] };
    }
    if (Object.keys(changes).length === 0) return { before, after: before, changes };

    if (changes.name) await refuseTakenName(trx, site, name, row.id);
    if (changes.cidr) await refuseOverlap(trx, site, cidr, row.id);
    const ipam = await this.deps.ipam();
    const ipamBefore = toIpamNetwork(row);
    if (changes.cidr || changes.gateway || changes.ranges) {
      const allocations = await ipam.listAllocations(ipamBefore, trx);
      if (changes.cidr && allocations.length > 0) {
        throw stranded(`network ${row.name} keeps its CIDR ${row.cidr} while addresses are allocated in it`, 'body/cidr', allocations, 'release them first');
      }
      const onGateway = allocations.filter((a) => parseIpv4(a.address) === spec.gateway);
      if (onGateway.length > 0)
        throw stranded(
          `gateway ${next.gateway} of network ${row.name} is an allocated address`,
          'body/gateway',
          onGateway,
          'release it or pick another gateway',
        );
      const inRanges = allocations.filter((a) => spec.ranges.some((r) => intervalContains(r, parseIpv4(a.address)!)));
      if (inRanges.length > 0)
        throw stranded(
          `the new ranges of network ${row.name} cover allocated addresses`,
          'body/ranges',
          inRanges,
          'release them or leave them outside the ranges',
        );
    }
    await trx('networks')
      .where({ id: row.id })
      .update({
        name: next.name,
        cidr: next.cidr,
        gateway: next.gateway,
        dns_servers: JSON.stringify(next.dnsServers),
        domain: next.domain,
        vlan: next.vlan,
        pxe: next.pxe,
        ranges: JSON.stringify(next.ranges),
        updated_at: trx.fn.now(),
      });
    const updated = await this.row({ network: row.id }, trx);
    if (changes.cidr || changes.gateway || changes.ranges) await ipam.networkChanged?.(ipamBefore, toIpamNetwork(updated), trx);
    return { before, after: toNetwork(updated), changes };
  }

  /**
   * Deletes a network that has no allocations (refused, naming them, otherwise). Plugins
   * drop their rows for it (the builtin DHCP's reservations) in `networkRemoving`, in the
   * same transaction; MACs discovered in it forget which network that was.
   */
  async remove(ref: NetworkRef, trx: Knex.Transaction): Promise<Network> {
    const found = await this.row(ref, trx);
    await trx('networks').where({ id: found.id }).forUpdate().first('id');
    const row = await this.row({ network: found.id }, trx);
    const ipam = await this.deps.ipam();
    const network = toIpamNetwork(row);
    const allocations = await ipam.listAllocations(network, trx);
    if (allocations.length > 0) {
      throw stranded(
        `network ${row.name} at site ${row.site_name} still has allocated addresses`,
        'network',
        allocations,
        'release them first (sprout machine release, or DELETE /v1/networks/{id}/allocations/{allocationId})',
      );
    }
    await this.deps.hooks.networkRemoving.promise({ id: row.id, trx });
    await trx('discovered_macs').where({ network_id: row.id }).update({ network_id: null });
    await trx('networks').where({ id: row.id }).delete();
    await ipam.networkRemoved?.(network, trx);
    return toNetwork(row);
  }

  async list(filter: { site?: string } = {}, db: Db = this.deps.db): Promise<Network[]> {
    const q = this.rows(db).orderBy([{ column: 's.name' }, { column: 'n.name' }]);
    if (filter.site) q.where('n.site_id', (await findSite(db, filter.site)).id);
    return (await q).map(toNetwork);
  }

  /** One network with its address counts (the allocations come from the IPAM provider). */
  async show(ref: NetworkRef, db: Db = this.deps.db): Promise<Network & { utilisation: Utilisation }> {
    const row = await this.row(ref, db);
    const allocations = await (await this.deps.ipam()).listAllocations(toIpamNetwork(row), db);
    return { ...toNetwork(row), utilisation: utilisationOf(parsedModel(row), allocations.length) };
  }

  /** Every network with its address counts: one provider call per network (the metrics collector caches it). */
  async utilisationOfAll(db: Db = this.deps.db): Promise<(Network & { utilisation: Utilisation })[]> {
    const ipam = await this.deps.ipam();
    const rows = await this.rows(db);
    const out: (Network & { utilisation: Utilisation })[] = [];
    for (const row of rows)
      out.push({ ...toNetwork(row), utilisation: utilisationOf(parsedModel(row), (await ipam.listAllocations(toIpamNetwork(row), db)).length) });
    return out;
  }

  /** The allocations with the names an operator reads: the machine's hostname and the interface's name, where they are known. */
  async allocations(
    ref: NetworkRef,
    db: Db = this.deps.db,
  ): Promise<{ network: Network; items: (IpAllocation & { machineHostname: string | null; interfaceName: string | null })[] }> {
    const row = await this.row(ref, db);
    const items = await (await this.deps.ipam()).listAllocations(toIpamNetwork(row), db);
    const machineIds = [...new Set(items.map((a) => a.machineId).filter((id): id is string => !!id && isUuid(id)))];
    const interfaceIds = [...new Set(items.map((a) => a.interfaceId).filter((id): id is string => !!id && isUuid(id)))];
    const hostnames = new Map<string, string>(
      machineIds.length
        ? (await db('machines').whereIn('id', machineIds).select('id', 'hostname')).map((m: { id: string; hostname: string }) => [m.id, m.hostname])
        : [],
    );
    const names = new Map<string, string>(
      interfaceIds.length
        ? (await db('interfaces').whereIn('id', interfaceIds).select('id', 'name')).map((i: { id: string; name: string }) => [i.id, i.name])
        : [],
    );
    return {
      network: toNetwork(row),
      items: items.map((a) => ({
        ...a,
        machineHostname: (a.machineId && hostnames.get(a.machineId)) || null,
        interfaceName: (a.interfaceId && names.get(a.interfaceId)) || null,
      })),
    };
  }

  /** A machine's addresses in every network of its site, for `machine show`: its interfaces as its view already holds them. */
  async machineAddresses(
    machine: { id: string; site: { id: string }; interfaces: { id: string; name: string }[] },
    db: Db = this.deps.db,
    /** The site's networks by name, when the caller read them with the machine (`GET /v1/machines/{id}` does). */
    siteNetworks?: Pick<NetworkRow, 'id' | 'site_id' | 'name' | 'cidr' | 'gateway' | 'ranges'>[],
  ): Promise<{ address: string; network: string; interface: string | null }[]> {
    const ipam = await this.deps.ipam();
    const machineId = machine.id;
    const siteId = machine.site.id;
    const interfaces = new Map<string, string>(machine.interfaces.map((i) => [i.id, i.name]));
    const found: { address: string; network: string; interface: string | null }[] = [];
    const networks =
      siteNetworks ??
      (await preparedRows<Pick<NetworkRow, 'id' | 'site_id' | 'name' | 'cidr' | 'gateway' | 'ranges'>>(
        db,
        'sprout_site_networks',
        'select n.id, n.site_id, n.name, n.cidr, n.gateway, n.ranges from networks n where n.site_id = $1 order by n.name',
        [siteId],
      ));
    // Network by network (by name), as a provider without `machineAllocations` answers them.
    const byNetwork = new Map<string, IpAllocation[]>(networks.map((row) => [row.id, []]));
    if (ipam.machineAllocations) {
      for (const a of await ipam.machineAllocations(networks.map(toIpamNetwork), machineId, db)) byNetwork.get(a.networkId)?.push(a);
    } else {
      for (const row of networks) byNetwork.set(row.id, await ipam.listAllocations(toIpamNetwork(row), db, { machineId }));
    }
    for (const row of networks) {
      for (const a of byNetwork.get(row.id)!) {
        if (a.machineId === machineId)
          found.push({ address: a.address, network: row.name, interface: (a.interfaceId && interfaces.get(a.interfaceId)) || null });
      }
    }
    return found;
  }

  /**
   * Allocates an address: the requested one, or the provider's next free one. A
   * machine (id or hostname at the network's site) is locked while its interfaces are
   * checked, so one interface never ends up with two addresses in one network.
   */
  async allocate(ref: NetworkRef, request: AllocateBody, trx: Knex.Transaction): Promise<AddressChange> {
    const row = await this.lockedRow(ref, trx);
    if (request.interface && !request.machine) {
      throw new SproutError('SPROUT_ERR_VALIDATION', 'an interface needs its machine', {
        details: [{ field: 'body/interface', message: 'is only meaningful with `machine`' }],
      });
    }
    const machine = request.machine ? await this.machineAt(trx, request.machine, row) : undefined;
    const nic = machine && request.interface ? await interfaceOf(trx, machine, request.interface) : undefined;
    const ipam = await this.deps.ipam();
    const network = toIpamNetwork(row);
    if (nic) {
      const held = (await ipam.listAllocations(network, trx, { machineId: machine!.id })).find((a) => a.interfaceId === nic.id);
      if (held) {
        throw new SproutError(
          'SPROUT_ERR_CONFLICT',
          `interface ${nic.name} of ${machine!.hostname} already has ${held.address} in network ${row.name} (allocation ${held.id}); release it first`,
          {
            details: [{ field: 'body/interface', message: `already has ${held.address}`, allocation: held.id }],
          },
        );
      }
    }
    const allocation = await ipam.allocateAddress(
      {
        network,
        ...(request.address ? { address: request.address } : {}),
        ...(machine ? { machineId: machine.id } : {}),
        ...(nic ? { interfaceId: nic.id } : {}),
        ...(request.hostname || machine ? { hostname: request.hostname ?? machine!.hostname } : {}),
      },
      trx,
    );
    return { network: toNetwork(row), allocation, provider: this.deps.ipamProviderId() };
  }

  async release(ref: NetworkRef, allocationId: string, trx: Knex.Transaction): Promise<AddressChange> {
    const row = await this.row(ref, trx);
    const ipam = await this.deps.ipam();
    const network = toIpamNetwork(row);
    const allocation = (await ipam.listAllocations(network, trx)).find((a) => a.id === allocationId);
    if (!allocation) throw new SproutError('SPROUT_ERR_NOT_FOUND', `network ${row.name} has no allocation ${allocationId}`);
    await ipam.releaseAddress(network, allocationId, trx);
    return { network: toNetwork(row), allocation, provider: this.deps.ipamProviderId() };
  }

  /**
   * The provisioning address of a machine's PXE interface in its site's PXE network:
   * the existing allocation when there is one (idempotent), else a new one.
   */
  async ensureMachineAddress(
    machine: { id: string; siteId: string; hostname: string; interfaceId: string; mac: string },
    trx: Knex.Transaction,
  ): Promise<{ network: { id: string; name: string; cidr: string; gateway: string; domain: string | null; dnsServers: string[] }; allocation: IpAllocation }> {
    const [first] = await this.rows(trx).where('n.site_id', machine.siteId).andWhere('n.pxe', true).orderBy('n.name').limit(1);
    const row = first && (await this.lockedRow({ network: first.id }, trx));
    if (!row) {
      const site = await trx('sites').where({ id: machine.siteId }).first('name');
      const name = site?.name ?? machine.siteId;
      throw new SproutError(
        'SPROUT_ERR_CONFLICT',
        `site ${name} has no PXE network; create one with \`sprout network create --site ${name} --name … --cidr … --gateway … --pxe\``,
        {
          context: { site: machine.siteId, machine: machine.id },
        },
      );
    }
    // Serialises concurrent calls for one machine, so a retry never allocates twice.
    await trx('machines').where({ id: machine.id }).forUpdate().first('id');
    const ipam = await this.deps.ipam();
    const network = toIpamNetwork(row);
    const held = await ipam.listAllocations(network, trx, { machineId: machine.id });
    const allocation =
      held.find((a) => a.interfaceId === machine.interfaceId) ??
      held.find((a) => a.machineId === machine.id) ??
      (await ipam.allocateAddress({ network, machineId: machine.id, interfaceId: machine.interfaceId, hostname: machine.hostname }, trx));
    return { network: { id: row.id, name: row.name, cidr: row.cidr, gateway: row.gateway, domain: row.domain, dnsServers: row.dns_servers ?? [] }, allocation };
  }

  /** Releases every allocation held by a machine (used by release workflows). */
  async releaseMachineAddresses(machineId: string, trx: Knex.Transaction): Promise<void> {
    const machine = await trx('machines').where({ id: machineId }).first('site_id');
    const q = this.rows(trx);
    if (machine) q.where('n.site_id', machine.site_id);
    const ipam = await this.deps.ipam();
    for (const row of await q) {
      const network = toIpamNetwork(row);
      for (const allocation of await ipam.listAllocations(network, trx, { machineId })) {
        if (allocation.machineId === machineId) await ipam.releaseAddress(network, allocation.id, trx);
      }
    }
  }

  private rows(db: Db): Knex.QueryBuilder<NetworkRow, NetworkRow[]> {
    return db('networks as n').join('sites as s', 's.id', 'n.site_id').select('n.*', 's.name as site_name') as unknown as Knex.QueryBuilder<
      NetworkRow,
      NetworkRow[]
    >;
  }

  /**
   * The network, share-locked until the transaction ends: allocations take it, so an
   * update or delete (which lock it exclusively) sees every allocation made before it,
   * and an allocation after it sees the changed network.
   */
  private async lockedRow(ref: NetworkRef, trx: Knex.Transaction): Promise<NetworkRow> {
    const found = await this.row(ref, trx);
    await trx('networks').where({ id: found.id }).forShare().first('id');
    return this.row({ network: found.id }, trx);
  }

  /** A network by id, or by name (within `site` when given); a name at several sites asks for the site. */
  private async row(ref: NetworkRef, db: Db): Promise<NetworkRow> {
    const q = this.rows(db);
    if (isUuid(ref.network)) q.where('n.id', ref.network);
    else q.where('n.name', ref.network);
    if (ref.site) q.where('n.site_id', (await findSite(db, ref.site)).id);
    const found = await q.orderBy('s.name').limit(3);
    const where = ref.site ? ` at site ${ref.site}` : '';
    if (found.length === 0)
      throw new SproutError('SPROUT_ERR_NOT_FOUND', `no network "${ref.network}"${where}`, {
        details: [{ field: 'network', message: `no network with id or name "${ref.network}"${where}` }],
      });
    if (found.length > 1) {
      throw new SproutError(
        'SPROUT_ERR_CONFLICT',
        `network name "${ref.network}" exists at several sites (${found.map((r) => r.site_name).join(', ')}); name the site (?site=, --site) or use the network id`,
      );
    }
    return found[0];
  }

  private async machineAt(trx: Knex.Transaction, idOrHostname: string, network: NetworkRow): Promise<MachineRow> {
    try {
      return await findMachine(trx, idOrHostname, { siteId: network.site_id, forUpdate: true });
    } catch (err) {
      if (!isSproutError(err, 'SPROUT_ERR_NOT_FOUND')) throw err;
      const elsewhere = await findMachine(trx, idOrHostname).catch(() => undefined);
      if (!elsewhere) throw err;
      throw new SproutError('SPROUT_ERR_CONFLICT', `machine ${elsewhere.hostname} is not at site ${network.site_name}, where network ${network.name} is`, {
        details: [{ field: 'body/machine', message: `is at another site than network ${network.name}` }],
      });
    }
  }
}

async function interfaceOf(trx: Knex.Transaction, machine: MachineRow, nameOrMac: string): Promise<InterfaceRow> {
  const mac = parseMac(nameOrMac);
  const rows: InterfaceRow[] = await trx('interfaces')
    .where({ machine_id: machine.id })
    .andWhere((q) => {
      q.where({ name: nameOrMac });
      if (mac) q.orWhere({ mac });
    });
  if (rows.length === 0) {
    throw new SproutError('SPROUT_ERR_NOT_FOUND', `machine ${machine.hostname} has no interface "${nameOrMac}"`, {
      details: [{ field: 'body/interface', message: `no interface with name or MAC "${nameOrMac}"` }],
    });
  }
  return rows.find((r) => r.name === nameOrMac) ?? rows[0];
}

/** A name another network of the site has is a 409 naming it. */
async function refuseTakenName(trx: Knex.Transaction, site: { id: string; name: string }, name: string, exceptId?: string): Promise<void> {
  const q = trx('networks').where({ site_id: site.id, name });
  if (exceptId) q.whereNot({ id: exceptId });
  const sameName = await q.first('id');
  if (sameName) {
    throw new SproutError('SPROUT_ERR_CONFLICT', `site ${site.name} already has a network named ${name}`, {
      details: [{ field: 'body/name', message: `is taken at site ${site.name} by network ${sameName.id}` }],
    });
  }
}

/** A block overlapping another network of the site is a 409 naming that network. */
async function refuseOverlap(trx: Knex.Transaction, site: { id: string; name: string }, cidr: string, exceptId?: string): Promise<void> {
  const q = trx('networks').where({ site_id: site.id }).andWhereRaw('cidr && ?::cidr', [cidr]);
  if (exceptId) q.whereNot({ id: exceptId });
  const overlapping = await q.orderBy('name').first('id', 'name', 'cidr');
  if (overlapping) {
    const message = `${cidr} overlaps network ${overlapping.name} (${overlapping.cidr}) at site ${site.name}`;
    throw new SproutError('SPROUT_ERR_CONFLICT', message, {
      details: [{ field: 'body/cidr', message, network: { id: overlapping.id, name: overlapping.name, cidr: overlapping.cidr } }],
    });
  }
}

/** How many allocations a refusal names; the rest are counted. */
const namedAllocations = 10;

/** A 409 naming the allocations that stand in the way: address and hostname (or allocation id), a sample and the count. */
function stranded(what: string, field: string, allocations: IpAllocation[], remedy: string): SproutError {
  const sample = allocations.slice(0, namedAllocations);
  const named = sample.map((a) => `${a.address} (${a.hostname ? a.hostname : `allocation ${a.id}`})`).join(', ');
  const more = allocations.length > sample.length ? ` and ${allocations.length - sample.length} more` : '';
  const message = `${what}: ${allocations.length} allocation(s): ${named}${more}; ${remedy}`;
  return new SproutError('SPROUT_ERR_CONFLICT', message, {
    details: [
      {
        field,
        message: `${allocations.length} allocated address(es) in the way`,
        count: allocations.length,
        allocations: sample.map((a) => ({ id: a.id, address: a.address, hostname: a.hostname ?? null, machineId: a.machineId ?? null })),
      },
    ],
  });
}

/** JSON with object keys sorted: jsonb hands ranges back with its own key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

function normaliseDomain(domain: string | null | undefined): string | null {
  return domain ? domain.toLowerCase().replace(/\.$/, '') : null;
}

function storedRanges(spec: NetworkSpec): AddressRange[] {
  return spec.ranges.map((r) => ({ kind: r.kind, start: formatIpv4(r.start), end: formatIpv4(r.end) }));
}

function toNetwork(row: NetworkRow): Network {
  return {
    id: row.id,
    site: { id: row.site_id, name: row.site_name },
    name: row.name,
    cidr: row.cidr,
    gateway: row.gateway,
    dnsServers: row.dns_servers ?? [],
    domain: row.domain,
    vlan: row.vlan,
    pxe: row.pxe,
    ranges: row.ranges ?? [],
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

function toIpamNetwork(row: Pick<NetworkRow, 'id' | 'site_id' | 'cidr' | 'gateway' | 'ranges'>): IpamNetwork {
  return { id: row.id, siteId: row.site_id, cidr: row.cidr, gateway: row.gateway, ranges: row.ranges ?? [] };
}

/** The stored model as numbers; rows were validated on the way in. */
function parsedModel(row: NetworkRow) {
  return {
    cidr: parseCidr(row.cidr)!,
    ranges: (row.ranges ?? []).map((r) => ({ kind: r.kind, start: parseIpv4(r.start)!, end: parseIpv4(r.end)! })),
  };
}
