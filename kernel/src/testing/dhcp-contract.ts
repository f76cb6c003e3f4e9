/**
 * The contract every `dhcp` provider passes: one reservation per MAC per site, replaced
 * by re-reserving, whatever the MAC's spelling; unreserving a missing MAC is fine; an
 * address belongs to one MAC per network; sites never see each other's reservations.
 * A provider package runs it from its own test file:
 *
 *   dhcpContract(test, { title: 'my-dhcp', setup: async () => kernelDhcpSubject(kernel) });
 */
import { randomUUID } from 'node:crypto';
import type { TestFn } from 'ava';
import { dhcpCapability, type DhcpProvider, type DhcpReservation } from '../capabilities/dhcp.ts';
import type { Kernel } from '../kernel.ts';

export interface DhcpContractSubject {
  provider: DhcpProvider;
  /** A new site with one provisioning network on 198.18.0.0/24; no two tests share one. */
  newSite(): Promise<{ siteId: string; networkId: string }>;
}

export interface DhcpContractOptions {
  /** Prefixes every test title, e.g. `dhcp-builtin on postgres`. */
  title: string;
  setup(): Promise<DhcpContractSubject>;
  teardown?(): Promise<void>;
  /**
   * True for a provider backed by one external DHCP server that holds one set of hosts
   * per subnet for every site (a Kea stub): the same MAC reserved at two sites in one
   * subnet cannot both exist there, so that test is not part of its contract.
   */
  sitesShareOneServer?: boolean;
}

/** A subject for the active `dhcp` provider of a booted kernel: sites and networks are rows in its tables. */
export async function kernelDhcpSubject(kernel: Kernel): Promise<DhcpContractSubject> {
  const db = kernel.store.db;
  return {
    provider: await kernel.capability(dhcpCapability),
    async newSite() {
      const siteId = randomUUID();
      const networkId = randomUUID();
      await db('sites').insert({ id: siteId, name: `dhcp-contract-${siteId.slice(0, 8)}` });
      await db('networks').insert({ id: networkId, site_id: siteId, name: 'provisioning', cidr: '198.18.0.0/24', gateway: '198.18.0.1' });
      return { siteId, networkId };
    },
  };
}

const byMac = (a: DhcpReservation, b: DhcpReservation) => a.mac.localeCompare(b.mac);
const sorted = (reservations: DhcpReservation[]) => [...reservations].sort(byMac);

export function dhcpContract(test: TestFn, options: DhcpContractOptions): void {
  let subject: DhcpContractSubject;
  test.before(async () => {
    subject = await options.setup();
  });
  test.after.always(async () => {
    await options.teardown?.();
  });
  const title = (what: string) => `${options.title}: ${what}`;

  test(title('a reservation is listed as reserved, its MAC lowercase and colon-separated'), async (t) => {
    const { provider, newSite } = subject;
    const { siteId, networkId } = await newSite();
    await provider.reserve({ siteId, networkId, mac: 'AA:BB:CC:00:00:01', address: '198.18.0.10', hostname: 'node1', netboot: true });
    await provider.reserve({ siteId, networkId, mac: 'aa:bb:cc:00:00:02', address: '198.18.0.11', netboot: false });
    t.deepEqual(sorted(await provider.listReservations(siteId)), [
      { siteId, networkId, mac: 'aa:bb:cc:00:00:01', address: '198.18.0.10', hostname: 'node1', netboot: true },
      { siteId, networkId, mac: 'aa:bb:cc:00:00:02', address: '198.18.0.11', netboot: false },
    ]);
  });

  test(title('reserving the same reservation twice keeps one'), async (t) => {
    const { provider, newSite } = subject;
    const { siteId, networkId } = await newSite();
    const reservation = { siteId, networkId, mac: 'aa:bb:cc:00:00:01', address: '198.18.0.10', hostname: 'node1', netboot: true };
    await provider.reserve(reservation);
    await provider.reserve(reservation);
    t.deepEqual(await provider.listReservations(siteId), [reservation]);
  });

  test(title('re-reserving a MAC replaces its address, hostname and netboot, and frees the old address'), async (t) => {
    const { provider, newSite } = subject;
    const { siteId, networkId } = await newSite();
    await provider.reserve({ siteId, networkId, mac: 'aa:bb:cc:00:00:01', address: '198.18.0.10', hostname: 'node1', netboot: true });
    const moved = { siteId, networkId, mac: 'aa:bb:cc:00:00:01', address: '198.18.0.20', hostname: 'node1b', netboot: false };
    await provider.reserve(moved);
    t.deepEqual(await provider.listReservations(siteId), [moved]);
    const other = { siteId, networkId, mac: 'aa:bb:cc:00:00:02', address: '198.18.0.10', netboot: true };
    await provider.reserve(other);
    t.deepEqual(sorted(await provider.listReservations(siteId)), [moved, other]);
  });

  test(title('any common spelling of a MAC names the same reservation'), async (t) => {
    const { provider, newSite } = subject;
    const { siteId, networkId } = await newSite();
    await provider.reserve({ siteId, networkId, mac: 'AA-BB-CC-00-00-02', address: '198.18.0.10', netboot: true });
    await provider.reserve({ siteId, networkId, mac: 'aabb.cc00.0002', address: '198.18.0.12', netboot: true });
    t.deepEqual(await provider.listReservations(siteId), [{ siteId, networkId, mac: 'aa:bb:cc:00:00:02', address: '198.18.0.12', netboot: true }]);
    await provider.unreserve(siteId, 'AABBCC000002');
    t.deepEqual(await provider.listReservations(siteId), []);
  });

  test(title('unreserving removes only that MAC; unreserving a missing one is fine'), async (t) => {
    const { provider, newSite } = subject;
    const { siteId, networkId } = await newSite();
    const kept = { siteId, networkId, mac: 'aa:bb:cc:00:00:02', address: '198.18.0.11', netboot: true };
    await provider.reserve({ siteId, networkId, mac: 'aa:bb:cc:00:00:01', address: '198.18.0.10', netboot: true });
    await provider.reserve(kept);
    await provider.unreserve(siteId, 'aa:bb:cc:00:00:01');
    t.deepEqual(await provider.listReservations(siteId), [kept]);
    await t.notThrowsAsync(provider.unreserve(siteId, 'aa:bb:cc:00:00:01'));
    await t.notThrowsAsync(provider.unreserve(siteId, 'aa:bb:cc:ff:ff:ff'));
    t.deepEqual(await provider.listReservations(siteId), [kept]);
  });

  if (!options.sitesShareOneServer)
    test(title('each site has its own reservations, even for the same MAC and address'), async (t) => {
      const { provider, newSite } = subject;
      const a = await newSite();
      const b = await newSite();
      const inA = { ...a, mac: 'aa:bb:cc:00:00:01', address: '198.18.0.10', hostname: 'node1', netboot: true };
      const inB = { ...b, mac: 'aa:bb:cc:00:00:01', address: '198.18.0.10', hostname: 'node1-b', netboot: false };
      await provider.reserve(inA);
      await provider.reserve(inB);
      t.deepEqual(await provider.listReservations(a.siteId), [inA]);
      t.deepEqual(await provider.listReservations(b.siteId), [inB]);
      await provider.unreserve(b.siteId, inB.mac);
      t.deepEqual(await provider.listReservations(b.siteId), []);
      t.deepEqual(await provider.listReservations(a.siteId), [inA]);
    });

  test(title('an address reserved for another MAC in the network is a conflict that changes nothing'), async (t) => {
    const { provider, newSite } = subject;
    const { siteId, networkId } = await newSite();
    const holder = { siteId, networkId, mac: 'aa:bb:cc:00:00:01', address: '198.18.0.10', netboot: true };
    const other = { siteId, networkId, mac: 'aa:bb:cc:00:00:02', address: '198.18.0.11', netboot: true };
    await provider.reserve(holder);
    await provider.reserve(other);
    await t.throwsAsync(provider.reserve({ ...other, address: '198.18.0.10' }), { code: 'SPROUT_ERR_CONFLICT' });
    await t.throwsAsync(provider.reserve({ ...other, mac: 'aa:bb:cc:00:00:03', address: '198.18.0.10' }), { code: 'SPROUT_ERR_CONFLICT' });
    t.deepEqual(sorted(await provider.listReservations(siteId)), [holder, other]);
  });

  test(title('a malformed MAC or address is refused with SPROUT_ERR_VALIDATION'), async (t) => {
    const { provider, newSite } = subject;
    const { siteId, networkId } = await newSite();
    const good = { siteId, networkId, mac: 'aa:bb:cc:00:00:01', address: '198.18.0.10', netboot: true };
    for (const bad of [
      { mac: 'aa:bb:cc:00:00' },
      { mac: 'zz:bb:cc:00:00:01' },
      { mac: 'aa:bb-cc:00:00:01' },
      { address: '198.18.0.256' },
      { address: 'node1' },
    ]) {
      await t.throwsAsync(provider.reserve({ ...good, ...bad }), { code: 'SPROUT_ERR_VALIDATION' }, JSON.stringify(bad));
    }
    await t.throwsAsync(provider.unreserve(siteId, 'not-a-mac'), { code: 'SPROUT_ERR_VALIDATION' });
    t.deepEqual(await provider.listReservations(siteId), []);
  });
}
