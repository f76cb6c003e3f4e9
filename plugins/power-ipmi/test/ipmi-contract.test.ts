/**
 * The power contract for the ipmi driver against a real BMC: OpenIPMI's ipmi_sim working
 * a QEMU VM. The machine is judged by the VM process, never by the driver's word.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { powerContract } from '@sprout/kernel/testing';
import type { PowerTarget } from '@sprout/kernel';
import { freeUdpPort, startIpmiBmc, type IpmiBmc } from '@sprout/test-support/ipmi-bmc.ts';
import { ipmiDriver } from '../src/driver.ts';

let bmc: IpmiBmc | undefined;

const target = (address: string, username: string, password: string): PowerTarget => ({
  machineId: 'm-ipmi-1',
  hostname: 'ipmi-node-1',
  macs: ['52:54:00:12:34:56'],
  bmc: { type: 'ipmi', address, username, password, options: { cipherSuite: 3 } },
});

powerContract(test, {
  title: 'ipmi against ipmi_sim',
  async setup() {
    bmc = await startIpmiBmc({ vm: { name: 'ipmi-contract' } });
    const { vm } = bmc;
    const observed = bmc;
    return {
      driver: ipmiDriver(),
      target: target(bmc.address, bmc.username, bmc.password),
      observe: {
        power: async () => (vm.running() ? 'on' : 'off'),
        boots: async () => vm.boots,
        nextBoot: async () => observed.nextBoot(),
      },
      wrongCredentials: target(bmc.address, bmc.username, `${bmc.password}-wrong`),
      unreachable: target(`127.0.0.1:${await freeUdpPort()}`, 'admin', 'whatever'),
    };
  },
  async teardown() {
    await bmc?.stop();
  },
});

test.serial('after the contract: the BMC saw the boot devices and the soft off the driver asked for', (t) => {
  const ops = bmc!.operations();
  t.true(ops.includes('boot pxe'), ops.join(', '));
  t.true(ops.includes('boot default'), ops.join(', '));
  t.true(ops.includes('shutdown 1'), 'the soft off reached the BMC');
  t.is(bmc!.vm.bootDevice(), 'disk', 'the last start booted the disk');
});

test.serial("the password reaches the BMC through the environment, never on ipmitool's command line", async (t) => {
  // ipmitool behind a wrapper that writes down its command line, then runs it unchanged.
  const dir = mkdtempSync(join(tmpdir(), 'ipmitool-argv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const wrapper = join(dir, 'ipmitool');
  writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$@" >> '${dir}/argv'\nexec ipmitool "$@"\n`);
  chmodSync(wrapper, 0o755);
  const { address, username, password } = bmc!;
  const driver = ipmiDriver({ ipmitool: wrapper });
  t.deepEqual(await driver.checkCredentials(target(address, username, password), { timeoutMs: 20_000 }), { state: 'off' });
  const argv = readFileSync(join(dir, 'argv'), 'utf8');
  t.true(argv.includes('-E') && argv.includes(username), argv);
  t.false(argv.includes(password), 'the password is not on the command line');
});
