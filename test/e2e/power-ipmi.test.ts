/**
 * Hands-free, end to end, with a real BMC: OpenIPMI's `ipmi_sim` is the BMC of a QEMU VM
 * on a tap in the test's namespace, and its chassis control is the only thing that
 * starts and stops the VM. The operator's commands alone take the VM from powered off
 * through commissioning and deployment to its disk, then release it with its disks
 * wiped and the power off; `sprout machine power status` agrees with the BMC's VM at
 * every step. The agent drives the BMC with Debian's ipmitool (lanplus, cipher suite 3).
 */
import test, { type ExecutionContext } from 'ava';
import type { IpmiBmc } from '@sprout/test-support/ipmi-bmc.ts';
import { startIpmiVm } from '@sprout/test-support/ipmi-vm.ts';
import { MARKER, readAt, sha256, startE2eSite, testImage, type E2eSite } from '@sprout/test-support/e2e-site.ts';
import { tail } from '@sprout/test-support/qemu.ts';
import { until } from '@sprout/test-support/until.ts';

const VM = { cpus: 2, memoryMiB: 1024, diskBytes: 64 * 1024 * 1024 };
const MiB = 1024 * 1024;
const subnet = '198.18.94';
const mac = '52:54:00:18:94:10';

/** What the CLI says of the machine's power, next to what the BMC's VM really does. */
async function powerAgrees(t: ExecutionContext, site: E2eSite, bmc: IpmiBmc, expected: 'on' | 'off', when: string): Promise<void> {
  await until(`the VM to be ${expected} ${when}`, async () => bmc.vm.running() === (expected === 'on'), 60_000).catch((err) => {
    throw new Error(`${err.message}\n${bmc.log().slice(-3000)}`);
  });
  const status = JSON.parse(await site.cli('machine', 'power', 'status', 'vm-1', '--json'));
  t.is(status.state, expected, `sprout machine power status ${when}: ${JSON.stringify(status)}`);
  t.is(bmc.vm.running(), expected === 'on', `the VM ${when}`);
}

test.serial('ipmi_sim powers a QEMU VM from off through commission and deploy to its disk, and release --erase wipes it and powers it off', async (t) => {
  t.timeout(25 * 60_000);
  const site = await startE2eSite(t, { subnet, postgres: false, env: {}, yaml: 'plugins:\n  transport-http: { waitSeconds: 2 }\n', name: 'power-ipmi' });
  const { cli, cliWithInput } = site;
  const image = testImage(4 * MiB);
  site.addImage('test.raw', image);

  // The BMC and the VM it powers run inside the namespace: the agent reaches the BMC at
  // the bridge's address, and the VM's NIC is the namespace's tap.
  const { bmc, disk, serial, bmcFlags } = await startIpmiVm(t, site, {
    name: 'vm-1',
    mac,
    firmware: 'bios',
    cpus: VM.cpus,
    memoryMiB: VM.memoryMiB,
    diskBytes: VM.diskBytes,
  });

  await cliWithInput(
    bmc.password,
    'machine',
    'create',
    'vm-1',
    '--site',
    'lab',
    '--boot-mode',
    'bios',
    '--mac',
    mac,
    '--cpus',
    String(VM.cpus),
    '--memory-mib',
    String(VM.memoryMiB),
    '--disks',
    '1',
    ...bmcFlags(),
  );
  const machine = async () => JSON.parse(await cli('machine', 'show', 'vm-1', '--json'));
  t.like((await machine()).bmc, { type: 'ipmi', address: bmc.address, credentialsSet: true });
  await powerAgrees(t, site, bmc, 'off', 'before anything');

  // ---- commission: check-bmc, next boot PXE, power on; the installer powers off ----
  const started = Date.now();
  const commission = await cli('machine', 'commission', 'vm-1', '--watch');
  t.log(`commission, hands-free: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  t.regex(commission, /check-bmc\s+succeeded/);
  t.regex(commission, /power-on\s+succeeded/);
  t.is((await machine()).status, 'ready', JSON.stringify((await machine()).statusReason));
  t.regex(serial(1), /sprout-installer: commissioned: /, tail(serial(1)));
  await powerAgrees(t, site, bmc, 'off', 'after commissioning (the installer powered off)');
  t.true(bmc.operations().includes('boot pxe') && bmc.operations().includes('power 1'), bmc.operations().join(', '));

  // ---- deploy: PXE again, the image written and verified, then the disk boots ----
  const deployStarted = Date.now();
  // The test image is a boot sector, not an OS that could phone home: no first-boot wait.
  const deploy = await cli('machine', 'deploy', 'vm-1', '--image', 'test.raw', '--no-wait-first-boot', '--watch');
  t.regex(deploy, /install\s+succeeded/);
  t.regex(deploy, /boot-disk\s+succeeded/);
  const deployed = await machine();
  t.is(deployed.status, 'deployed', JSON.stringify(deployed.statusReason));
  await until('the deployed VM to boot its disk', async () => serial(2).includes(MARKER), 3 * 60_000).catch((err) => {
    throw new Error(`${err.message}\n${tail(serial(2))}`);
  });
  t.log(`deploy, hands-free, to the disk's boot sector: ${((Date.now() - deployStarted) / 1000).toFixed(1)} s`);
  t.is(sha256(readAt(disk, image.length)), sha256(image), 'the disk holds the image');
  await powerAgrees(t, site, bmc, 'on', 'once deployed');
  t.is(bmc.nextBoot(), 'disk', 'boot-disk left the BMC booting the disk');

  // ---- release --erase: cycle into the installer's erase mode, wipe, power off ----
  const released = await cli('machine', 'release', 'vm-1', '--erase', '--watch');
  t.regex(released, /erase\s+succeeded/);
  t.regex(released, /power-off\s+succeeded/);
  const after = await machine();
  t.not(after.status, 'deployed', JSON.stringify(after.statusReason));
  t.true(['ready', 'new'].includes(after.status), after.status);
  await powerAgrees(t, site, bmc, 'off', 'after release --erase');
  const erased = serial(3);
  t.regex(erased, /sprout-installer: .*erase/i, tail(erased));
  const zero = Buffer.alloc(16 * MiB);
  t.true(readAt(disk, 16 * MiB).equals(zero), 'the first 16 MiB (MBR, partition table) are zero');
  t.true(readAt(disk, 16 * MiB, VM.diskBytes - 16 * MiB).equals(zero), 'the last 16 MiB (a GPT backup) are zero');
  const workflows = JSON.parse(await cli('workflow', 'list', '--machine', 'vm-1', '--json'));
  const release = workflows.items.find((w: { kind: string }) => w.kind === 'release');
  const shown = JSON.parse(await cli('workflow', 'show', release.id, '--json'));
  const eraseStep = shown.steps.find((s: { name: string }) => s.name === 'erase');
  t.regex(JSON.stringify(eraseStep.result), /vda/, 'the erase step reports the wiped disk');
});
