/**
 * The NetBox stub passes the `ipam` contract against a fake NetBox: every network the
 * contract makes becomes a NetBox prefix mapped in the stub's config.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { ipamContract } from '@sprout/kernel/testing';
import { NetboxClient, NetboxIpam } from '../src/index.ts';
import { startFakeNetbox, type FakeNetbox } from '@sprout/test-support/fake-netbox.ts';

let netbox: FakeNetbox | undefined;

ipamContract(test, {
  title: 'netbox-stub against a fake NetBox',
  async setup() {
    netbox = await startFakeNetbox();
    const config = { url: netbox.url, prefixes: {} as Record<string, number> };
    const provider = new NetboxIpam(
      new NetboxClient({ pluginId: 'netbox-stub', url: netbox.url, token: netbox.token, timeoutMs: 5_000 }),
      config,
      'netbox-stub',
    );
    const siteId = randomUUID();
    return {
      provider,
      providerId: 'netbox-stub',
      async network({ cidr, gateway, ranges = [] }) {
        config.prefixes[cidr] = netbox!.addPrefix(cidr);
        return { id: randomUUID(), siteId, cidr, gateway, ranges };
      },
      machine: async () => ({ machineId: randomUUID(), interfaceId: randomUUID() }),
      transaction: () => Promise.reject(new Error('NetBox keeps its state outside Sprout: no transaction')),
      transactional: false,
    };
  },
  teardown: async () => netbox?.close(),
});
