/**
 * IPAM: hands out addresses inside a network the kernel owns. The kernel keeps the
 * network model (CIDR, gateway, ranges); a provider decides which address is free,
 * in its own store (builtin) or an external system's (NetBox).
 */
import type { Knex } from 'knex';
import { defineCapability } from './define-capability.ts';

export interface IpamNetwork {
  id: string;
  siteId: string;
  cidr: string;
  gateway: string;
  ranges: { kind: 'dynamic' | 'reserved'; start: string; end: string }[];
}

export interface IpAllocation {
  id: string;
  networkId: string;
  address: string;
  machineId?: string | null;
  interfaceId?: string | null;
  hostname?: string | null;
  /** Plugin id of the provider that served the allocation, for the audit trail. */
  provider: string;
}

export interface AllocateAddressRequest {
  network: IpamNetwork;
  /** A specific address; without it the provider picks the next free one outside dynamic and reserved ranges. */
  address?: string;
  machineId?: string;
  interfaceId?: string;
  hostname?: string;
}

/**
 * `trx` is the caller's transaction: a provider keeping its state in Sprout's database
 * writes inside it, so the allocation and its audit record commit together. A provider
 * backed by another system ignores it.
 */
export interface IpamProvider {
  /** Fails with SPROUT_ERR_NETWORK_EXHAUSTED when no address is free, SPROUT_ERR_CONFLICT when the requested one is taken. */
  allocateAddress(request: AllocateAddressRequest, trx?: Knex.Transaction): Promise<IpAllocation>;
  releaseAddress(network: IpamNetwork, allocationId: string, trx?: Knex.Transaction): Promise<void>;
  /**
   * The network's allocations; `only.machineId` lets a provider narrow them to one
   * machine's (callers still filter: a provider may return more).
   */
  listAllocations(network: IpamNetwork, trx?: Knex | Knex.Transaction, only?: { machineId: string }): Promise<IpAllocation[]>;
  findAllocation(network: IpamNetwork, address: string, trx?: Knex | Knex.Transaction): Promise<IpAllocation | undefined>;
  /**
   * Optional. One machine's allocations in any of `networks` (all of one site), in one
   * read: `GET /v1/machines/{id}` shows them on every call. Without it the kernel asks
   * `listAllocations` network by network.
   */
  machineAllocations?(networks: IpamNetwork[], machineId: string, db?: Knex | Knex.Transaction): Promise<IpAllocation[]>;
  /**
   * Optional. The kernel changed the network's model (gateway, ranges, or its CIDR while
   * it had no allocations); every allocation still fits `after`. A provider that keeps
   * state derived from the model (NetBox's holds on the gateway and range addresses)
   * updates it. Called last in the caller's transaction, after the change is checked.
   */
  networkChanged?(before: IpamNetwork, after: IpamNetwork, trx?: Knex.Transaction): Promise<void>;
  /**
   * Optional. The kernel deletes the network, which has no allocations. A provider drops
   * whatever it still keeps for it (NetBox: its holds). Called last in the caller's
   * transaction, after the refusal checks.
   */
  networkRemoved?(network: IpamNetwork, trx?: Knex.Transaction): Promise<void>;
}

export const ipamCapability = defineCapability<IpamProvider>({
  id: 'ipam',
  cardinality: 'one',
  description: 'IP address management inside provisioning networks',
});
