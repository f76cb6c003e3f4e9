/** The builtin dns provider passes the dns contract on both stores. */
import test from 'ava';
import { dnsCapability } from '@sprout/kernel';
import { backends } from '../../../test/helpers/harness.ts';
import { dnsProviderContract } from '../../../kernel/src/testing/dns-contract.ts';
import { insertSite, sharedHarness } from './kernel-fixture.ts';

for (const backend of backends) {
  const harness = sharedHarness(test, backend);
  dnsProviderContract(test, `dns-builtin on ${backend}`, async () => {
    const h = await harness();
    return { provider: await h.kernel.capability(dnsCapability), newSite: () => insertSite(h.kernel.store.db) };
  });
}
