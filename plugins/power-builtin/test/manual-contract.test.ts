/** The manual driver passes the power contract: it does nothing itself and names the machine and what a person must do. */
import test from 'ava';
import { powerContract } from '@sprout/kernel/testing';
import plugin from '../src/index.ts';
import { manualDriver } from '../src/manual-driver.ts';

powerContract(test, {
  title: 'manual',
  setup: async () => ({ driver: manualDriver, target: { machineId: 'm-1', hostname: 'node-01', macs: ['52:54:00:00:00:01'], bmc: { type: 'manual' } } }),
});

test('the plugin hands the agent the manual driver under its type', async (t) => {
  const part = await plugin.agent!();
  t.is(part.power?.manual, manualDriver);
});
