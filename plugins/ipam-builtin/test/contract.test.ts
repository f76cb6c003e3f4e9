/** The builtin IPAM passes the `ipam` contract on both stores. */
import test from 'ava';
import { ipamContract, kernelIpamSubject } from '@sprout/kernel/testing';
import { backends, startHarness, type Harness } from '../../../test/helpers/harness.ts';

for (const backend of backends) {
  let h: Harness | undefined;
  ipamContract(test, {
    title: `ipam-builtin on ${backend}`,
    async setup() {
      h = await startHarness(backend);
      return kernelIpamSubject(h.kernel, 'ipam-builtin');
    },
    teardown: async () => h?.stop(),
  });
}
