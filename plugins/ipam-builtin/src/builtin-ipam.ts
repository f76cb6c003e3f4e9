/**
 * Sprout's own IPAM: allocations are rows in `ip_allocations`, written inside the
 * caller's transaction. Allocation is race-free: a transaction-scoped advisory lock per
 * network serialises the choice of address, and the unique (network, address) pair
 * catches anything that slips past it. It must never hand out an address inside a
 * range, the gateway, or the network's own and broadcast addresses.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { SproutError, type KernelRead, type AllocateAddressRequest, type IpAllocation, type IpamNetwork, type IpamProvider } from '@sprout/kernel/sdk';
import { firstFreeAddress, standingOf } from './address-space.ts';

interface AllocationRow {
  id: string;
  network_id: string;
  address: string;
  machine_id: string | null;
  interface_id: string | null;
  hostname: string | null;
}

const octet = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const dottedQuad = new RegExp(`^${octet}(\\.${octet}){3}$`);
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const uniqueViolation = '23505';

export class BuiltinIpam implements IpamProvider {
  constructor(
    private readonly db: Knex,
    private readonly pluginId: string,
    /** The kernel's read API: the site's live DHCP leases. */
    private readonly read: KernelRead,
  ) {}

  async allocateAddress(request: AllocateAddressRequest, trx?: Knex.Transaction): Promise<IpAllocation> {
    const { network } = request;
    return this.inTransaction(trx, async (tx) => {
      // Held until the caller's transaction ends, so the next allocation sees this one.
      await tx.raw(`select pg_advisory_xact_lock(hashtext('sprout.ipam-builtin'), hashtext(?))`, [network.id]);
      const address = request.address === undefined ? await this.nextFree(tx, network, request.machineId) : await this.requested(tx, network, request.address);
      const row: AllocationRow = {
        id: randomUUID(),
        network_id: network.id,
        address,
        machine_id: request.machineId ?? null,
        interface_id: request.interfaceId ?? null,
        hostname: request.hostname ?? null,
      };
      try {
        await tx('ip_allocations').insert(row);
      } catch (err) {
        if ((err as { code?: string }).code === uniqueViolation) {
          throw new SproutError('SPROUT_ERR_CONFLICT', `${address} is already allocated in network ${network.cidr}`, {
            cause: err,
            context: { plugin: this.pluginId },
          });
        }
        throw err;
      }
      return this.toAllocation(row);
    });
  }

  async releaseAddress(network: IpamNetwork, allocationId: string, trx?: Knex.Transaction): Promise<void> {
    // `returning` rather than the delete count: knex-pglite does not report counts the way pg does.
    const deleted = uuid.test(allocationId)
      ? await (trx ?? this.db)('ip_allocations').where({ network_id: network.id, id: allocationId }).delete().returning('id')
      : [];
    if (deleted.length === 0)
      throw new SproutError('SPROUT_ERR_NOT_FOUND', `no allocation ${allocationId} in network ${network.cidr}`, { context: { plugin: this.pluginId } });
  }

  async listAllocations(network: IpamNetwork, trx?: Knex | Knex.Transaction, only?: { machineId: string }): Promise<IpAllocation[]> {
    const q = this.rows(trx ?? this.db).where({ network_id: network.id });
    if (only) q.andWhere({ machine_id: only.machineId });
    const rows = await q.orderBy('ip_allocations.address');
    return rows.map((r) => this.toAllocation(r));
  }

  async machineAllocations(networks: IpamNetwork[], machineId: string, db?: Knex | Knex.Transaction): Promise<IpAllocation[]> {
    if (networks.length === 0) return [];
    const rows = await this.read.prepared<AllocationRow>(
      db ?? this.db,
      'ipam_builtin_machine_allocations',
      `select id, network_id, host(address) as address, machine_id, interface_id, hostname from ip_allocations
       where network_id = any($1::uuid[]) and machine_id = $2 order by address`,
      [networks.map((n) => n.id), machineId],
    );
    return rows.map((r) => this.toAllocation(r));
  }

  async findAllocation(network: IpamNetwork, address: string, trx?: Knex | Knex.Transaction): Promise<IpAllocation | undefined> {
    if (!dottedQuad.test(address)) throw invalidAddress(address);
    const row = await this.rows(trx ?? this.db)
      .where({ network_id: network.id })
      .andWhereRaw('address = cast(? as inet)', [address])
      .first();
    return row ? this.toAllocation(row) : undefined;
  }

  private async nextFree(tx: Knex.Transaction, network: IpamNetwork, machineId?: string): Promise<string> {
    const address = await firstFreeAddress(this.read, tx, network, machineId);
    if (address === null) {
      throw new SproutError(
        'SPROUT_ERR_NETWORK_EXHAUSTED',
        `network ${network.cidr} has no free address outside its gateway and ranges (an address whose lease may still be live at the site is not reused); release an allocation or shrink a range`,
        {
          context: { plugin: this.pluginId, network: network.id },
        },
      );
    }
    return address;
  }

  private async requested(tx: Knex.Transaction, network: IpamNetwork, wanted: string): Promise<string> {
    if (!dottedQuad.test(wanted)) throw invalidAddress(wanted);
    const standing = await standingOf(tx, network, wanted);
    if (!standing.host) {
      throw new SproutError('SPROUT_ERR_VALIDATION', `${wanted} is not a host address of network ${network.cidr}`, {
        details: [{ field: 'address', message: `is not a host address of ${network.cidr} (outside it, or its network or broadcast address)` }],
      });
    }
    if (standing.fencedBy) {
      const what = standing.fencedBy === 'gateway' ? 'is the gateway' : `is inside the ${standing.fencedBy}`;
      throw new SproutError('SPROUT_ERR_CONFLICT', `${wanted} ${what} of network ${network.cidr}; IPAM does not hand it out`, {
        details: [{ field: 'address', message: what }],
      });
    }
    const holder = await this.findAllocation(network, standing.address, tx);
    if (holder) {
      throw new SproutError(
        'SPROUT_ERR_CONFLICT',
        `${wanted} is already allocated${holder.hostname ? ` to ${holder.hostname}` : ''} (allocation ${holder.id})`,
        {
          details: [{ field: 'address', message: 'is already allocated', allocation: holder.id }],
        },
      );
    }
    return standing.address;
  }

  private rows(db: Knex | Knex.Transaction): Knex.QueryBuilder<AllocationRow, AllocationRow[]> {
    return db('ip_allocations').select(
      'id',
      'network_id',
      db.raw('host(address) as address'),
      'machine_id',
      'interface_id',
      'hostname',
    ) as unknown as Knex.QueryBuilder<AllocationRow, AllocationRow[]>;
  }

  private inTransaction<T>(trx: Knex.Transaction | undefined, work: (tx: Knex.Transaction) => Promise<T>): Promise<T> {
    return trx ? work(trx) : this.db.transaction(work);
  }

  private toAllocation(row: AllocationRow): IpAllocation {
    return {
      id: row.id,
      networkId: row.network_id,
      address: row.address,
      machineId: row.machine_id,
      interfaceId: row.interface_id,
      hostname: row.hostname,
      provider: this.pluginId,
    };
  }
}

function invalidAddress(address: string): SproutError {
  return new SproutError('SPROUT_ERR_VALIDATION', `"${address}" is not an IPv4 address`, {
    details: [{ field: 'address', message: 'must be an IPv4 address like 198.18.0.10' }],
  });
}
