/** The builtin dhcp provider passes the dhcp contract on both stores. */
import test from 'ava';
import { dhcpCapability } from '@sprout/kernel';
import { backends } from '../../../test/helpers/harness.ts';
import { dhcpProviderContract } from '../../../kernel/src/testing/dhcp-contract.ts';
import { insertSite, sharedHarness } from './kernel-fixture.ts';

for (const backend of backends) {
  const harness = sharedHarness(test, backend);
  dhcpProviderContract(test, `dhcp-builtin on ${backend}`, async () => {
    const h = await harness();
    return { provider: await h.kernel.capability(dhcpCapability), newSite: () => insertSite(h.kernel.store.db) };
  });
}
