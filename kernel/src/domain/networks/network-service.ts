/**
 * Provisioning networks (kernel-owned: CIDR, gateway, DNS, VLAN, ranges) and the
 * addresses allocated in them through the `ipam` capability.
 */
import type { Knex } from 'knex';
import type { IpamProvider, IpAllocation } from '../../capabilities/ipam.ts';
import { SproutError } from '../../errors/index.ts';

export interface NetworkServiceDeps {
  db: Knex;
  ipam: () => Promise<IpamProvider>;
  /** Plugin id of the active IPAM provider, for the audit trail. */
  ipamProviderId: () => string;
}

export class NetworkService {
  constructor(private readonly deps: NetworkServiceDeps) {}

  /**
   * The provisioning address of a machine's PXE interface in its site's PXE network:
   * the existing allocation when there is one (idempotent), else a new one.
   */
  async ensureMachineAddress(_machine: { id: string; siteId: string; hostname: string; interfaceId: string; mac: string }, _trx: Knex.Transaction): Promise<{ network: { id: string; name: string; cidr: string; gateway: string; domain: string | null; dnsServers: string[] }; allocation: IpAllocation }> {
    throw new SproutError('SPROUT_ERR_NOT_IMPLEMENTED', 'networks are being built');
  }

  /** Releases every allocation held by a machine (used by release workflows). */
  async releaseMachineAddresses(_machineId: string, _trx: Knex.Transaction): Promise<void> {
    throw new SproutError('SPROUT_ERR_NOT_IMPLEMENTED', 'networks are being built');
  }
}
