/** The builtin dhcp provider passes the dhcp contract on both stores. */
import test from 'ava';
import { backends, startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { dhcpContract, kernelDhcpSubject } from '../../../kernel/src/testing/dhcp-contract.ts';

for (const backend of backends) {
  let harness: Harness | undefined;
  dhcpContract(test, {
    title: `dhcp-builtin on ${backend}`,
    async setup() {
      harness = await startHarness(backend);
      return kernelDhcpSubject(harness.kernel);
    },
    teardown: async () => harness?.stop(),
  });
}
