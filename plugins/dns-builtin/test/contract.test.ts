/** The builtin dns provider passes the dns contract on both stores. */
import test from 'ava';
import { backends, startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { dnsContract, kernelDnsSubject } from '../../../kernel/src/testing/dns-contract.ts';

for (const backend of backends) {
  let harness: Harness | undefined;
  dnsContract(test, {
    title: `dns-builtin on ${backend}`,
    async setup() {
      harness = await startHarness(backend);
      return kernelDnsSubject(harness.kernel);
    },
    teardown: async () => harness?.stop(),
  });
}
