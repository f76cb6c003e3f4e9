/**
 * The Kea stub passes the `dhcp` contract against fake Kea Control Agents. Each site
 * the contract makes gets its own Kea, as a deployment has one per site, so the tests
 * (which reuse MACs and addresses) stay independent. One Kea holds one set of hosts per
 * subnet whatever the site, so the test of two sites sharing a MAC in one Kea is not part of its contract.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { DhcpProvider } from '@sprout/kernel';
import { dhcpContract } from '@sprout/kernel/testing';
import { KeaClient, KeaDhcp } from '@sprout/plugin-kea-stub';
import { startFakeKea, type FakeKea } from './fake-kea.ts';

const keas: FakeKea[] = [];
const bySite = new Map<string, KeaDhcp>();

function stubFor(siteId: string): KeaDhcp {
  const stub = bySite.get(siteId);
  if (!stub) throw new Error(`the contract used site ${siteId} without making it`);
  return stub;
}

dhcpContract(test, {
  title: 'kea-stub against a fake Kea',
  sitesShareOneServer: true,
  async setup() {
    const provider: DhcpProvider = {
      reserve: (reservation) => stubFor(reservation.siteId).reserve(reservation),
      unreserve: (siteId, mac) => stubFor(siteId).unreserve(siteId, mac),
      listReservations: (siteId) => stubFor(siteId).listReservations(siteId),
    };
    return {
      provider,
      async newSite() {
        const kea = await startFakeKea({ subnets: [7] });
        keas.push(kea);
        const siteId = randomUUID();
        const client = new KeaClient({ pluginId: 'kea-stub', url: kea.url, service: 'dhcp4', timeoutMs: 5_000 });
        bySite.set(siteId, new KeaDhcp(client, { subnets: { '198.18.0.0/24': 7 }, nextServer: '198.18.0.2', bootFileName: 'undionly.kpxe' }, 'kea-stub'));
        return { siteId, networkId: randomUUID() };
      },
    };
  },
  teardown: async () => {
    await Promise.all(keas.map((k) => k.close()));
  },
});
