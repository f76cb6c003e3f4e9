/**
 * The contract every `ipam` provider must pass, as ava tests: next free address,
 * requested addresses, conflicts, exhaustion, release and reuse, lookups, and no
 * duplicate under concurrency. A provider package runs it from its own test file:
 *
 *   ipamContract(test, { title: 'my-ipam', setup: async () => kernelIpamSubject(kernel) });
 */
import { randomUUID } from 'node:crypto';
import type { TestFn, ExecutionContext } from 'ava';
import type { Knex } from 'knex';
import { ipamCapability, type IpamNetwork, type IpamProvider } from '../capabilities/ipam.ts';
import { compareIpv4 } from '../net/ipv4.ts';
import type { ErrorCode } from '../errors/index.ts';
import type { Kernel } from '../kernel.ts';

export interface IpamContractSubject {
  provider: IpamProvider;
  /** The plugin id the provider puts in each allocation's `provider`. */
  providerId: string;
  /** A new network to allocate in; no two tests share one. */
  network(spec: { cidr: string; gateway: string; ranges?: IpamNetwork['ranges'] }): Promise<IpamNetwork>;
  /** A machine with one interface, for allocations that name them. */
  machine(): Promise<{ machineId: string; interfaceId: string }>;
  /** Runs `work` in a transaction of Sprout's database, handed to the provider as `trx`. */
  transaction<T>(work: (trx: Knex.Transaction) => Promise<T>): Promise<T>;
  /** True when allocations live in Sprout's database and roll back with the caller's transaction. */
  transactional: boolean;
  /** Stores a changed network model where the kernel keeps it, when the provider reads it from there. */
  changeNetwork?(network: IpamNetwork): Promise<void>;
}

export interface IpamContractOptions {
  /** Prefixes every test title, e.g. `ipam-builtin on postgres`. */
  title: string;
  setup(): Promise<IpamContractSubject>;
  teardown?(): Promise<void>;
}

/**
 * A subject for providers active in a booted kernel: networks and machines are rows in
 * the kernel's tables (at a site made for the purpose), the provider is the kernel's
 * active `ipam` provider.
 */
export async function kernelIpamSubject(kernel: Kernel, providerId?: string): Promise<IpamContractSubject> {
  const db = kernel.store.db;
  const siteId = randomUUID();
  await db('sites').insert({ id: siteId, name: `ipam-contract-${siteId.slice(0, 8)}` });
  return {
    provider: await kernel.capability(ipamCapability),
    providerId: providerId ?? kernel.pluginStatus.find((p) => p.activeFor.includes(ipamCapability.id))?.id ?? 'unknown',
    async network({ cidr, gateway, ranges = [] }) {
      const id = randomUUID();
      await db('networks').insert({ id, site_id: siteId, name: `net-${id.slice(0, 8)}`, cidr, gateway, ranges: JSON.stringify(ranges) });
      return { id, siteId, cidr, gateway, ranges };
    },
    async machine() {
      const machineId = randomUUID();
      const interfaceId = randomUUID();
      const mac = [...Buffer.from(randomUUID().replace(/-/g, '').slice(0, 12), 'hex')].map((b) => b.toString(16).padStart(2, '0')).join(':');
      await db('machines').insert({ id: machineId, site_id: siteId, hostname: `m-${machineId.slice(0, 8)}`, arch: 'x86_64', boot_mode: 'uefi' });
      await db('interfaces').insert({ id: interfaceId, machine_id: machineId, mac, name: 'eth0', pxe: true });
      return { machineId, interfaceId };
    },
    transaction: (work) => db.transaction(work),
    transactional: true,
    async changeNetwork({ id, cidr, gateway, ranges }) {
      await db('networks')
        .where({ id })
        .update({ cidr, gateway, ranges: JSON.stringify(ranges) });
    },
  };
}

export function ipamContract(test: TestFn, options: IpamContractOptions): void {
  let subject: IpamContractSubject;
  test.before(async () => {
    subject = await options.setup();
  });
  test.after.always(async () => {
    await options.teardown?.();
  });
  const title = (what: string) => `${options.title}: ${what}`;
  const next = (network: IpamNetwork) => subject.provider.allocateAddress({ network });
  const addresses = async (network: IpamNetwork) => (await subject.provider.listAllocations(network)).map((a) => a.address);

  test(title('the next free address skips the network address, the gateway and every range'), async (t) => {
    const network = await subject.network({
      cidr: '198.18.10.0/28',
      gateway: '198.18.10.1',
      ranges: [
        { kind: 'dynamic', start: '198.18.10.2', end: '198.18.10.4' },
        { kind: 'reserved', start: '198.18.10.6', end: '198.18.10.6' },
      ],
    });
    const first = await next(network);
    t.like(first, { address: '198.18.10.5', networkId: network.id, provider: subject.providerId });
    t.is((await next(network)).address, '198.18.10.7');
    t.is((await next(network)).address, '198.18.10.8');

    const gatewayInside = await subject.network({ cidr: '198.18.11.0/29', gateway: '198.18.11.3' });
    t.deepEqual(
      [(await next(gatewayInside)).address, (await next(gatewayInside)).address, (await next(gatewayInside)).address],
      ['198.18.11.1', '198.18.11.2', '198.18.11.4'],
    );
  });

  test(title('a full network answers SPROUT_ERR_NETWORK_EXHAUSTED and never hands out its broadcast address'), async (t) => {
    const network = await subject.network({
      cidr: '198.18.12.0/29',
      gateway: '198.18.12.6',
      ranges: [{ kind: 'reserved', start: '198.18.12.1', end: '198.18.12.2' }],
    });
    for (const expected of ['198.18.12.3', '198.18.12.4', '198.18.12.5']) t.is((await next(network)).address, expected);
    await expectCode(t, next(network), 'SPROUT_ERR_NETWORK_EXHAUSTED');
    t.deepEqual(await addresses(network), ['198.18.12.3', '198.18.12.4', '198.18.12.5']);
  });

  test(title('a requested address is allocated with its machine, interface and hostname, and skipped afterwards'), async (t) => {
    const network = await subject.network({ cidr: '198.18.13.0/28', gateway: '198.18.13.1' });
    const { machineId, interfaceId } = await subject.machine();
    const wanted = await subject.provider.allocateAddress({ network, address: '198.18.13.2', machineId, interfaceId, hostname: 'node-1' });
    t.like(wanted, { address: '198.18.13.2', networkId: network.id, machineId, interfaceId, hostname: 'node-1', provider: subject.providerId });
    t.is((await next(network)).address, '198.18.13.3');
    t.like(await subject.provider.findAllocation(network, '198.18.13.2'), { id: wanted.id, machineId, interfaceId, hostname: 'node-1' });
    // Narrowed to one machine, the list may hold more but never misses that machine's.
    const machines = (await subject.provider.listAllocations(network, undefined, { machineId })).filter((a) => a.machineId === machineId);
    t.deepEqual(
      machines.map((a) => a.id),
      [wanted.id],
    );
  });

  test(title('a taken address, the gateway and range addresses conflict; a non-host address is invalid'), async (t) => {
    const network = await subject.network({
      cidr: '198.18.14.0/28',
      gateway: '198.18.14.1',
      ranges: [{ kind: 'dynamic', start: '198.18.14.8', end: '198.18.14.11' }],
    });
    const allocate = (address: string) => subject.provider.allocateAddress({ network, address });
    await allocate('198.18.14.5');
    await expectCode(t, allocate('198.18.14.5'), 'SPROUT_ERR_CONFLICT');
    await expectCode(t, allocate('198.18.14.1'), 'SPROUT_ERR_CONFLICT');
    await expectCode(t, allocate('198.18.14.9'), 'SPROUT_ERR_CONFLICT');
    for (const outside of ['198.18.15.1', '198.18.14.0', '198.18.14.15', 'not-an-address']) {
      await expectCode(t, allocate(outside), 'SPROUT_ERR_VALIDATION');
    }
    t.deepEqual(await addresses(network), ['198.18.14.5']);
  });

  test(title('a released address is free again; releasing twice or an unknown id is not found'), async (t) => {
    const network = await subject.network({ cidr: '198.18.16.0/28', gateway: '198.18.16.1' });
    const [a, b, c] = [await next(network), await next(network), await next(network)];
    t.deepEqual([a.address, b.address, c.address], ['198.18.16.2', '198.18.16.3', '198.18.16.4']);
    await subject.provider.releaseAddress(network, b.id);
    t.deepEqual(await addresses(network), ['198.18.16.2', '198.18.16.4']);
    t.is(await subject.provider.findAllocation(network, '198.18.16.3'), undefined);
    t.is((await next(network)).address, '198.18.16.3');
    await expectCode(t, subject.provider.releaseAddress(network, b.id), 'SPROUT_ERR_NOT_FOUND');
    await expectCode(t, subject.provider.releaseAddress(network, randomUUID()), 'SPROUT_ERR_NOT_FOUND');
  });

  test(title('list and find see one network only, addresses in numeric order'), async (t) => {
    const one = await subject.network({ cidr: '198.18.17.0/24', gateway: '198.18.17.1' });
    const other = await subject.network({ cidr: '198.18.18.0/24', gateway: '198.18.18.1' });
    const ten = await subject.provider.allocateAddress({ network: one, address: '198.18.17.10' });
    await subject.provider.allocateAddress({ network: one, address: '198.18.17.9' });
    await subject.provider.allocateAddress({ network: one, address: '198.18.17.100' });
    await subject.provider.allocateAddress({ network: other, address: '198.18.18.10' });
    t.deepEqual(await addresses(one), ['198.18.17.9', '198.18.17.10', '198.18.17.100']);
    t.like(await subject.provider.findAllocation(one, '198.18.17.10'), {
      id: ten.id,
      address: '198.18.17.10',
      networkId: one.id,
      provider: subject.providerId,
    });
    t.is(await subject.provider.findAllocation(one, '198.18.17.11'), undefined);
    t.is(await subject.provider.findAllocation(other, '198.18.17.10'), undefined);
  });

  test(title("an allocation made in a transaction that rolls back does not exist (a provider outside Sprout's database: released, it is gone)"), async (t) => {
    const network = await subject.network({ cidr: '198.18.19.0/28', gateway: '198.18.19.1' });
    if (!subject.transactional) {
      // State outside Sprout's database cannot roll back with a caller's transaction: a
      // failed caller undoes its allocation by releasing it, which must free the address.
      const made = await next(network);
      t.deepEqual(await addresses(network), [made.address]);
      await subject.provider.releaseAddress(network, made.id);
      t.deepEqual(await addresses(network), [], 'releasing the allocation undoes it');
      t.is((await next(network)).address, made.address, 'and its address is handed out again');
      return;
    }
    await t.throwsAsync(
      subject.transaction(async (trx) => {
        await subject.provider.allocateAddress({ network }, trx);
        throw new Error('the caller fails after allocating');
      }),
      { message: 'the caller fails after allocating' },
    );
    t.deepEqual(await addresses(network), []);
    const committed = await subject.transaction((trx) => subject.provider.allocateAddress({ network }, trx));
    t.is(committed.address, '198.18.19.2');
  });

  test(title('after networkChanged, addresses that left the gateway and the ranges are handed out again'), async (t) => {
    const before = await subject.network({
      cidr: '198.18.21.0/28',
      gateway: '198.18.21.1',
      ranges: [{ kind: 'dynamic', start: '198.18.21.2', end: '198.18.21.4' }],
    });
    t.is((await next(before)).address, '198.18.21.5');
    // The kernel changes the model (the row, for providers that read it), then tells the provider.
    const after = { ...before, gateway: '198.18.21.14', ranges: [] };
    await subject.changeNetwork?.(after);
    await subject.provider.networkChanged?.(before, after);
    t.deepEqual(
      [(await next(after)).address, (await next(after)).address, (await next(after)).address, (await next(after)).address],
      ['198.18.21.1', '198.18.21.2', '198.18.21.3', '198.18.21.4'],
    );
    t.deepEqual(await addresses(after), ['198.18.21.1', '198.18.21.2', '198.18.21.3', '198.18.21.4', '198.18.21.5']);
  });

  test(title('after networkRemoved, a new network on the same block hands out the old gateway and range addresses'), async (t) => {
    const old = await subject.network({
      cidr: '198.18.22.0/28',
      gateway: '198.18.22.1',
      ranges: [{ kind: 'reserved', start: '198.18.22.2', end: '198.18.22.3' }],
    });
    const made = await next(old);
    t.is(made.address, '198.18.22.4');
    await subject.provider.releaseAddress(old, made.id);
    await subject.provider.networkRemoved?.(old);
    const fresh = await subject.network({ cidr: '198.18.22.0/28', gateway: '198.18.22.14' });
    t.deepEqual([(await next(fresh)).address, (await next(fresh)).address], ['198.18.22.1', '198.18.22.2']);
  });

  // Serial, so the 50 transactions contend with each other only, not with the other tests' connections.
  test.serial(title('50 concurrent allocations in one network get 50 distinct addresses'), async (t) => {
    const network = await subject.network({
      cidr: '198.18.20.0/24',
      gateway: '198.18.20.1',
      ranges: [{ kind: 'dynamic', start: '198.18.20.200', end: '198.18.20.254' }],
    });
    const made = await Promise.all(
      Array.from({ length: 50 }, () =>
        subject.transactional ? subject.transaction((trx) => subject.provider.allocateAddress({ network }, trx)) : next(network),
      ),
    );
    const distinct = new Set(made.map((a) => a.address));
    t.is(distinct.size, 50);
    t.deepEqual(
      [...distinct].sort(byAddress),
      Array.from({ length: 50 }, (_, i) => `198.18.20.${i + 2}`),
    );
    t.deepEqual(await addresses(network), [...distinct].sort(byAddress));
  });
}

async function expectCode(t: ExecutionContext, promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const err = await t.throwsAsync(promise);
  t.is((err as { code?: string } | undefined)?.code, code, `expected ${code}, got ${String(err)}`);
}

function byAddress(a: string, b: string): number {
  return compareIpv4(a, b);
}
