/**
 * IPAM backed by NetBox. The kernel's network maps to a NetBox prefix (config
 * `prefixes`); NetBox picks the next free address (`POST …/available-ips/`, under its
 * own lock) and keeps every allocation as an ip-address object whose description marks
 * it as Sprout's. NetBox knows nothing of Sprout's gateway and ranges: an address it
 * offers there is kept as a `reserved` hold so NetBox never offers it again, and is
 * never handed out.
 */
import {
  compareIpv4,
  formatCidr,
  parseCidr as parseIpv4Cidr,
  parseIpv4,
  SproutError,
  type AllocateAddressRequest,
  type IpAllocation,
  type IpamNetwork,
  type IpamProvider,
  type Ipv4Subnet,
} from '@sprout/kernel/sdk';
import type { NetboxClient } from './netbox-client.ts';

export interface NetboxIpamConfig {
  url: string;
  /** Sprout network CIDR → NetBox prefix id. Read on every call, so tests may add to it. */
  prefixes?: Record<string, number>;
}

/** The parts of NetBox's ip-address object the stub reads. */
export interface NetboxIpAddress {
  id: number;
  address: string;
  status?: { value: string } | string;
  description?: string;
  dns_name?: string;
}

interface NetboxPrefix {
  id: number;
  prefix: string;
  vrf: { id: number } | null;
}

interface Page<T> {
  count: number;
  next: string | null;
  results: T[];
}

/** Descriptions of Sprout's allocations start with this; holds with `holdMark`. */
export const allocationMark = 'sprout-allocation';
export const holdMark = 'sprout-hold';
const pageSize = 1000;
const dnsName = /^[0-9A-Za-z_-]+(\.[0-9A-Za-z_-]+)*$/;

export class NetboxIpam implements IpamProvider {
  /** Prefix ids already checked against the CIDR they are configured for. */
  private readonly checked = new Map<number, Promise<NetboxPrefix>>();

  constructor(
    private readonly client: NetboxClient,
    private readonly config: NetboxIpamConfig,
    private readonly pluginId: string,
  ) {}

  async allocateAddress(request: AllocateAddressRequest): Promise<IpAllocation> {
    const { network } = request;
    const block = blockOf(network);
    if (request.address !== undefined) this.refuseUnusable(network, block, request.address);
    const prefix = await this.prefixFor(network);
    const description = describe(request);
    const fields = { status: 'active', description, ...(request.hostname && dnsName.test(request.hostname) ? { dns_name: request.hostname } : {}) };
    if (request.address !== undefined) return this.allocateRequested(network, block, prefix, request.address, fields);

    const fenced = fencedCount(network, block);
    for (let tries = 0; tries <= fenced; tries++) {
      const answer = await this.client.call<NetboxIpAddress | { detail?: string }>('POST', `api/ipam/prefixes/${prefix.id}/available-ips/`, {
        body: fields,
        accept: [201, 409],
      });
      if (answer.status === 409) {
        throw new SproutError(
          'SPROUT_ERR_NETWORK_EXHAUSTED',
          `network ${network.cidr} has no free address in NetBox prefix ${prefix.id}: ${(answer.body as { detail?: string })?.detail ?? 'NetBox has none left'}`,
          {
            context: { plugin: this.pluginId, network: network.id, netboxPrefix: prefix.id },
          },
        );
      }
      const created = answer.body as NetboxIpAddress;
      const address = hostPart(created.address);
      const why = whyUnusable(network, block, address);
      if (!why) return this.toAllocation(network, created);
      try {
        await this.client.call('PATCH', `api/ipam/ip-addresses/${created.id}/`, {
          body: { status: 'reserved', description: `${holdMark}: ${why} of Sprout network ${network.cidr}` },
        });
      } catch (err) {
        // Never leave the gateway or a range address looking like one of Sprout's allocations.
        await this.client.call('DELETE', `api/ipam/ip-addresses/${created.id}/`, { accept: [204, 404] }).catch(() => undefined);
        throw err;
      }
    }
    throw new SproutError(
      'SPROUT_ERR_NETWORK_EXHAUSTED',
      `network ${network.cidr} has no free address outside its gateway and ranges in NetBox prefix ${prefix.id}`,
      {
        context: { plugin: this.pluginId, network: network.id, netboxPrefix: prefix.id },
      },
    );
  }

  async releaseAddress(network: IpamNetwork, allocationId: string): Promise<void> {
    const block = blockOf(network);
    const notFound = () =>
      new SproutError('SPROUT_ERR_NOT_FOUND', `no allocation ${allocationId} in network ${network.cidr}`, { context: { plugin: this.pluginId } });
    if (!/^[1-9]\d{0,17}$/.test(allocationId)) throw notFound();
    await this.prefixFor(network);
    const found = await this.client.call<NetboxIpAddress>('GET', `api/ipam/ip-addresses/${allocationId}/`, { accept: [200, 404] });
    if (found.status === 404 || !isAllocation(found.body) || !inside(block, hostPart(found.body.address))) throw notFound();
    const gone = await this.client.call('DELETE', `api/ipam/ip-addresses/${allocationId}/`, { accept: [204, 404] });
    if (gone.status === 404) throw notFound();
  }

  async listAllocations(network: IpamNetwork): Promise<IpAllocation[]> {
    const block = blockOf(network);
    await this.prefixFor(network);
    return (await this.addressesIn(block))
      .filter((ip) => isAllocation(ip) && inside(block, hostPart(ip.address)))
      .map((ip) => this.toAllocation(network, ip))
      .sort((a, b) => compareIpv4(a.address, b.address));
  }

  async findAllocation(network: IpamNetwork, address: string): Promise<IpAllocation | undefined> {
    const block = blockOf(network);
    if (parseIpv4(address) === null) throw invalidAddress(address);
    if (!inside(block, address)) return undefined;
    await this.prefixFor(network);
    const ip = (await this.lookup(address)).find(isAllocation);
    return ip ? this.toAllocation(network, ip) : undefined;
  }

  /**
   * Holds that the changed network no longer needs (an address that stopped being the
   * gateway or inside a range, or the whole old block after a CIDR change) are deleted,
   * so NetBox offers those addresses again.
   */
  async networkChanged(before: IpamNetwork, after: IpamNetwork): Promise<void> {
    const afterBlock = parseCidr(after.cidr);
    await this.dropHolds(before, (address) => !afterBlock || !inside(afterBlock, address) || whyUnusable(after, afterBlock, address) === undefined);
  }

  /**
   * The network's holds are deleted (it has no allocations by then). Another Sprout
   * network with the same block at another site loses them too; the stub holds such
   * an address again the next time NetBox offers it.
   */
  async networkRemoved(network: IpamNetwork): Promise<void> {
    await this.dropHolds(network, () => true);
  }

  private async dropHolds(network: IpamNetwork, unneeded: (address: string) => boolean): Promise<void> {
    const block = parseCidr(network.cidr);
    // Without a mapped prefix the stub never asked NetBox for an address there, so it holds none.
    if (!block || !Object.keys(this.config.prefixes ?? {}).some((cidr) => parseCidr(cidr)?.cidr === block.cidr)) return;
    for (const ip of await this.addressesIn(block)) {
      if (isHold(ip) && unneeded(hostPart(ip.address))) await this.client.call('DELETE', `api/ipam/ip-addresses/${ip.id}/`, { accept: [204, 404] });
    }
  }

  /** Every ip-address object NetBox holds inside `block`, page by page. */
  private async addressesIn(block: Block): Promise<NetboxIpAddress[]> {
    const found: NetboxIpAddress[] = [];
    for (let offset = 0; ; offset += pageSize) {
      const query = new URLSearchParams({ parent: block.cidr, limit: String(pageSize), offset: String(offset) });
      const page = (await this.client.call<Page<NetboxIpAddress>>('GET', `api/ipam/ip-addresses/?${query}`)).body;
      found.push(...page.results);
      if (!page.next || page.results.length === 0) break;
    }
    return found;
  }

  private async allocateRequested(
    network: IpamNetwork,
    block: Block,
    prefix: NetboxPrefix,
    address: string,
    fields: Record<string, string>,
  ): Promise<IpAllocation> {
    const holder = (await this.lookup(address))[0];
    if (holder) throw taken(network, address, holder);
    const answer = await this.client.call<NetboxIpAddress | Record<string, string[]>>('POST', 'api/ipam/ip-addresses/', {
      body: { address: `${address}/${block.prefix}`, ...(prefix.vrf ? { vrf: prefix.vrf.id } : {}), ...fields },
      accept: [201, 400],
    });
    if (answer.status === 400) {
      // NetBox refuses a duplicate (ENFORCE_GLOBAL_UNIQUE) when someone took it since the lookup.
      const said = JSON.stringify(answer.body);
      if (/duplicate/i.test(said)) throw taken(network, address);
      throw this.client.refusal('POST', '/api/ipam/ip-addresses/', 400, said);
    }
    return this.toAllocation(network, answer.body as NetboxIpAddress);
  }

  /** Every ip-address object NetBox holds for `address`, whatever its mask. */
  private async lookup(address: string): Promise<NetboxIpAddress[]> {
    const page = (await this.client.call<Page<NetboxIpAddress>>('GET', `api/ipam/ip-addresses/?${new URLSearchParams({ address })}`)).body;
    return page.results.filter((ip) => hostPart(ip.address) === address);
  }

  private refuseUnusable(network: IpamNetwork, block: Block, address: string): void {
    const n = parseIpv4(address);
    if (n === null) throw invalidAddress(address);
    if (n <= block.network || n >= block.broadcast || !inside(block, address)) {
      throw new SproutError('SPROUT_ERR_VALIDATION', `${address} is not a host address of network ${network.cidr}`, {
        details: [{ field: 'address', message: `is not a host address of ${network.cidr} (outside it, or its network or broadcast address)` }],
        context: { plugin: this.pluginId },
      });
    }
    const why = whyUnusable(network, block, address);
    if (why) {
      throw new SproutError('SPROUT_ERR_CONFLICT', `${address} is ${why} of network ${network.cidr}; IPAM does not hand it out`, {
        details: [{ field: 'address', message: `is ${why}` }],
        context: { plugin: this.pluginId },
      });
    }
  }

  /** The NetBox prefix configured for the network, checked once against NetBox. */
  private prefixFor(network: IpamNetwork): Promise<NetboxPrefix> {
    const block = blockOf(network);
    const entry = Object.entries(this.config.prefixes ?? {}).find(([cidr]) => parseCidr(cidr)?.cidr === block.cidr);
    const key = `plugins.${this.pluginId}.prefixes`;
    if (!entry) {
      return Promise.reject(
        new SproutError('SPROUT_ERR_CONFIG', `network ${network.cidr} has no NetBox prefix: add "${network.cidr}: <NetBox prefix id>" under ${key}`, {
          details: [{ field: key, message: `has no entry for ${network.cidr}` }],
          context: { plugin: this.pluginId, network: network.id, cidr: network.cidr },
        }),
      );
    }
    const id = entry[1];
    let checking = this.checked.get(id);
    if (!checking) {
      checking = this.checkPrefix(id, block, key);
      this.checked.set(id, checking);
      checking.catch(() => this.checked.delete(id));
    }
    return checking;
  }

  private async checkPrefix(id: number, block: Block, key: string): Promise<NetboxPrefix> {
    const answer = await this.client.call<NetboxPrefix>('GET', `api/ipam/prefixes/${id}/`, { accept: [200, 404] });
    if (answer.status === 404) {
      throw new SproutError('SPROUT_ERR_CONFIG', `${key} maps ${block.cidr} to NetBox prefix ${id}, which ${this.config.url} does not have`, {
        details: [{ field: `${key}.${block.cidr}`, message: `NetBox has no prefix ${id}` }],
        context: { plugin: this.pluginId },
      });
    }
    if (parseCidr(answer.body.prefix)?.cidr !== block.cidr) {
      throw new SproutError('SPROUT_ERR_CONFIG', `${key} maps ${block.cidr} to NetBox prefix ${id}, which is ${answer.body.prefix} in NetBox`, {
        details: [{ field: `${key}.${block.cidr}`, message: `NetBox prefix ${id} is ${answer.body.prefix}` }],
        context: { plugin: this.pluginId },
      });
    }
    return answer.body;
  }

  private toAllocation(network: IpamNetwork, ip: NetboxIpAddress): IpAllocation {
    const fields = parseDescription(ip.description ?? '');
    return {
      id: String(ip.id),
      networkId: network.id,
      address: hostPart(ip.address),
      machineId: fields.machine ?? null,
      interfaceId: fields.interface ?? null,
      hostname: fields.host ?? null,
      provider: this.pluginId,
    };
  }
}

/** A CIDR as NetBox is asked about it: the SDK's parsed block and its canonical text (`198.18.0.0/24`, host bits cleared). */
type Block = Ipv4Subnet & { cidr: string };

function parseCidr(text: string): Block | undefined {
  const block = parseIpv4Cidr(String(text));
  return block ? { ...block, cidr: formatCidr(block) } : undefined;
}

/** `198.18.1.5/24` (how NetBox writes an address) → `198.18.1.5`. */
function hostPart(address: string): string {
  return String(address).split('/')[0];
}

function blockOf(network: IpamNetwork): Block {
  const block = parseCidr(network.cidr);
  if (!block) throw new SproutError('SPROUT_ERR_VALIDATION', `network ${network.id} has no IPv4 CIDR (${network.cidr})`);
  return block;
}

function inside(block: Block, address: string): boolean {
  const n = parseIpv4(address);
  return n !== null && n >= block.network && n <= block.broadcast;
}

/** Why Sprout never hands `address` out automatically, or undefined when it may. */
function whyUnusable(network: IpamNetwork, block: Block, address: string): string | undefined {
  const n = parseIpv4(address)!;
  if (n === block.network) return 'the network address';
  if (n === block.broadcast) return 'the broadcast address';
  if (address === network.gateway) return 'the gateway';
  const range = network.ranges.find((r) => n >= parseIpv4(r.start)! && n <= parseIpv4(r.end)!);
  return range ? `inside the ${range.kind} range ${range.start}-${range.end}` : undefined;
}

/** How many addresses NetBox may offer that Sprout must refuse: bounds the retries. */
function fencedCount(network: IpamNetwork, block: Block): number {
  const inRanges = network.ranges.reduce((sum, r) => sum + Math.max(0, parseIpv4(r.end)! - parseIpv4(r.start)! + 1), 0);
  return Math.min(inRanges + 3, block.broadcast - block.network + 1);
}

function describe(request: AllocateAddressRequest): string {
  const parts = [allocationMark];
  if (request.hostname) parts.push(`host=${request.hostname.replace(/\s+/g, '_')}`);
  if (request.machineId) parts.push(`machine=${request.machineId}`);
  if (request.interfaceId) parts.push(`interface=${request.interfaceId}`);
  return parts.join(' ').slice(0, 200);
}

function parseDescription(description: string): Record<string, string> {
  return Object.fromEntries([...description.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
}

function isAllocation(ip: NetboxIpAddress): boolean {
  return (ip.description ?? '').startsWith(allocationMark);
}

function isHold(ip: NetboxIpAddress): boolean {
  return (ip.description ?? '').startsWith(holdMark);
}

function taken(network: IpamNetwork, address: string, holder?: NetboxIpAddress): SproutError {
  const who = holder
    ? isAllocation(holder)
      ? ` (allocation ${holder.id}${parseDescription(holder.description ?? '').host ? ` for ${parseDescription(holder.description ?? '').host}` : ''})`
      : ` in NetBox (ip-address ${holder.id}${holder.description ? `: ${holder.description}` : ''})`
    : ' in NetBox';
  return new SproutError('SPROUT_ERR_CONFLICT', `${address} is already allocated${who} in network ${network.cidr}`, {
    details: [{ field: 'address', message: 'is already allocated', ...(holder ? { allocation: String(holder.id) } : {}) }],
  });
}

function invalidAddress(address: string): SproutError {
  return new SproutError('SPROUT_ERR_VALIDATION', `"${address}" is not an IPv4 address`, {
    details: [{ field: 'address', message: 'must be an IPv4 address like 198.18.0.10' }],
  });
}
