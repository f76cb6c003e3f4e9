/**
 * The redfish driver passes the power contract against a Redfish BMC (DMTF service root,
 * sessions, ComputerSystem) whose machine is a real QEMU VM: the contract judges the
 * driver by the VM process and the BMC's boot override, not by the driver's word.
 * A hung BMC (TCP accepted, never an answer) must fail with `timeout` within the call's timeout.
 */
import test from 'ava';
import { PowerError } from '@sprout/kernel';
import { powerContract } from '@sprout/kernel/testing';
import { agentDriver, deadAddress, redfishLab, silentServer, targetOf, type Lab } from './bmc-fixture.ts';

let lab: Lab | undefined;

powerContract(test, {
  title: 'redfish against a Redfish BMC driving a QEMU VM',
  callTimeoutMs: 20_000,
  async setup() {
    lab = await redfishLab('rf-contract');
    const { bmc, target } = lab;
    return {
      driver: await agentDriver(),
      target,
      observe: {
        power: async () => (bmc.vm.running() ? 'on' : 'off'),
        boots: async () => bmc.vm.boots,
        nextBoot: async () => bmc.nextBoot(),
      },
      wrongCredentials: { ...target, bmc: { ...target.bmc, password: 'not-the-password' } },
      unreachable: targetOf({ address: await deadAddress(), insecure: true }),
    };
  },
  async teardown() {
    await lab?.close();
  },
});

test.serial('the contract VM booted the network first when the next boot was set to the network, and the disk afterwards', (t) => {
  // The contract set network, powered on, cycled, then set disk and cycled from off:
  // the Once override was spent by the first boot, the last start was from the disk.
  t.truthy(lab, 'the contract ran');
  const resets = lab!.bmc.requests.filter((r) => r.path.endsWith('/Actions/ComputerSystem.Reset')).map((r) => (r.body as { ResetType: string }).ResetType);
  t.deepEqual(resets, ['On', 'PowerCycle', 'GracefulShutdown', 'ForceOff', 'On', 'ForceOff']);
  t.deepEqual(lab!.bmc.bootLog, ['network', 'disk', 'disk']);
  t.is(lab!.bmc.nextBoot(), 'disk');
  t.true(
    lab!.bmc.requests.every((r) => r.status !== 409),
    'the driver never asked for On when on or ForceOff when off',
  );
});

test('a BMC that accepts TCP but never answers fails with timeout, naming the BMC, within the call timeout', async (t) => {
  const silent = await silentServer();
  t.teardown(() => silent.close());
  const driver = await agentDriver();
  const timeoutMs = 2_000;
  const started = Date.now();
  const err = await t.throwsAsync(driver.on(targetOf({ address: silent.address }), { timeoutMs }));
  const took = Date.now() - started;
  t.true(err instanceof PowerError, `${err?.name}: ${err?.message}`);
  t.is((err as PowerError).reason, 'timeout', err?.message);
  t.true(err!.message.startsWith(`redfish ${silent.address}: `), err?.message);
  t.regex(err!.message, /did not answer within 2000 ms/);
  t.true(took >= timeoutMs - 50 && took < timeoutMs + 1_500, `took ${took} ms`);
});
