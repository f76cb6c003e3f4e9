/**
 * Power through the lab driver, end to end: a simulated machine whose BMC is the
 * simulator's power switch (`bmc.type: lab`) is commissioned, deployed and released with
 * --erase by its workflows alone — nothing here powers it. The release boots it (a
 * power cycle: it was running its OS) into the installer's erase mode; the erase step
 * ends on the installer's report of the disks it wiped, which shows in the step's result
 * and log and in the audit trail; the machine ends ready, powered off, its disk empty.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simulatedSite } from '@sprout/test-support/site-lab.ts';
import { until } from '@sprout/test-support/until.ts';

const mac = '52:54:00:77:0e:01';

test('release --erase of a deployed lab machine: powered on through the lab driver, its disks wiped and reported, then off and ready', async (t) => {
  const lab = await simulatedSite(t, '127.77.14');
  writeFileSync(join(lab.images, 'tiny.raw'), randomBytes(400_000));
  const { simulator } = lab;
  simulator.plugIn({ mac, disks: 2, diskBytes: 2 * 8 * 1024 ** 3 });
  await lab.api('POST', '/v1/machines', {
    site: 'lab',
    hostname: 'wipe-1',
    arch: 'x86_64',
    bootMode: 'bios',
    interfaces: [{ mac }],
    bmc: { type: 'lab', address: simulator.powerSwitchUrl },
  });

  const finished = async (workflow: { id: string }) =>
    until(
      `workflow ${workflow.id} ends`,
      async () => {
        const wf = await lab.api('GET', `/v1/workflows/${workflow.id}`);
        return ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(wf.state) && wf;
      },
      90_000,
    );
  const commissioned = await finished(await lab.api('POST', '/v1/machines/wipe-1/commission', { hwtest: false }));
  t.is(commissioned.state, 'succeeded', JSON.stringify(commissioned.steps));
  const deployed = await finished(await lab.api('POST', '/v1/machines/wipe-1/deploy', { image: 'tiny.raw' }));
  t.is(deployed.state, 'succeeded', JSON.stringify(deployed.steps));
  t.like(simulator.machineState(mac), { state: 'on', nextBoot: 'disk', starts: 2 });

  lab.events.length = 0;
  const released = await finished(await lab.api('POST', '/v1/machines/wipe-1/release', { erase: true }));
  t.is(released.state, 'succeeded', JSON.stringify(released.steps));
  t.deepEqual(
    released.steps.map((s: any) => s.name),
    ['allocate-ip', 'reserve-dhcp', 'write-dns', 'publish-boot-intent', 'power-on', 'erase', 'power-off', 'clear-boot-intent', 'release-addresses'],
  );
  const step = (name: string) => released.steps.find((s: any) => s.name === name);
  t.like(step('publish-boot-intent').result, { intent: 'erase' });
  t.like(step('power-on').result, { driver: 'lab', was: 'on', action: 'cycle' });
  const wiped = [
    { disk: 'sda', bytes: 8 * 1024 ** 3, method: 'zero-ends' },
    { disk: 'sdb', bytes: 8 * 1024 ** 3, method: 'zero-ends' },
  ];
  t.deepEqual(step('erase').result, { event: 'erase-complete', wiped });
  t.true(step('erase').logTail.includes(`wiped sda: ${8 * 1024 ** 3} bytes (zero-ends)`), step('erase').logTail.join('\n'));
  t.like(step('power-off').result, { driver: 'lab', state: 'off' });

  // The machine: released, powered off, and what it did on the wire.
  const machine = await lab.api('GET', '/v1/machines/wipe-1');
  t.is(machine.status, 'ready');
  t.like(simulator.machineState(mac), { state: 'off', starts: 3 });
  t.true(
    lab.events.some((e) => e.kind === 'script' && /sprout\.intent=erase/.test(e.detail)),
    'booted the installer in erase mode',
  );
  t.deepEqual(
    lab.events.filter((e) => e.kind === 'erase').map((e) => e.detail),
    wiped.map((w) => `${w.disk}: ${w.bytes} bytes wiped (zero-ends)`),
  );
  t.true(lab.events.some((e) => e.kind === 'callback' && e.detail.startsWith('erase-complete → 202')));

  // The audit trail says which disks were wiped, and the release (with erase) by whom.
  const audit = (await lab.api('GET', '/v1/audit?action=agent.machine.erased')).items;
  t.is(audit.length, 1);
  t.deepEqual(audit[0].details.wiped, wiped);
  t.is(audit[0].details.machineId, machine.id);
  const release = (await lab.api('GET', '/v1/audit?action=machine.release')).items;
  t.like(release[0], { outcome: 'success', details: { erase: true } });

  // Its disk is empty now: powered on from the disk at the switch, the firmware finds no system there.
  const press = (path: string, method: string, body: unknown) =>
    fetch(`${simulator.powerSwitchUrl}/machines/${mac}/${path}`, { method, body: JSON.stringify(body) });
  t.is((await press('boot', 'PUT', { device: 'disk' })).status, 200);
  t.is((await press('power', 'POST', { action: 'on' })).status, 200);
  await until(
    'the firmware looks at the disk',
    async () => lab.events.some((e) => e.kind === 'power' && /boot device disk, but no operating system on it/.test(e.detail)),
    10_000,
  );
  simulator.powerOff(mac);
});
