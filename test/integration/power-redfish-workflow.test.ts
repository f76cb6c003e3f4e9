/**
 * Issue 17's Redfish acceptance, at the workflow level: a real control plane and site
 * agent (on loopback) power a QEMU VM through the Redfish test BMC (HTTPS with a
 * self-signed certificate, DMTF ComputerSystem, the VM driven through QMP), all of it
 * through the `sprout` CLI as an operator types it. `machine power` status/on/off/cycle
 * agrees with the VM; commission's check-bmc and power-on set Pxe Once and start the VM
 * from the network; a wrong password fails check-bmc with the BMC's 401 words and never
 * touches the VM nor shows the password; a BMC that refuses connections or never
 * answers fails within the call timeout naming its address; an untrusted certificate
 * says so and names `insecure`. One VM and one control plane serve every case, in order.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sprout } from '@sprout/test-support/processes.ts';
import { powerVm, type PowerVm } from '@sprout/test-support/power-vm.ts';
import { deadAddress, silentServer, startRedfishBmc, type RedfishBmc } from '@sprout/test-support/redfish-bmc.ts';
import { simulatedSite, type SiteLab, type SimulatedSite } from '@sprout/test-support/site-lab.ts';
import { until } from '@sprout/test-support/until.ts';

const username = 'sprout-ops';
const password = 'Rf-Pa55word-7c1e';
const wrongPassword = 'Wr0ng-Rf-pa55-9d2b';
const callTimeoutSeconds = 5;
/** QEMU's default MAC: the VM's NIC is the machine's PXE interface. */
const mac = '52:54:00:12:34:56';

interface Lab {
  lab: SimulatedSite;
  bmc: RedfishBmc;
  vm: PowerVm;
}

const cleanups: Array<() => unknown> = [];
let shared: Promise<Lab> | undefined;

/** The control plane, its agent, the VM and its BMC, started once for the whole file. */
function setup(): Promise<Lab> {
  shared ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sprout-rf-workflow-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const vm = powerVm({ name: 'vm-r', dir });
    cleanups.push(() => vm.close());
    const bmc = await startRedfishBmc({ dir, vm, username, password });
    cleanups.push(() => bmc.close());
    const lab = await simulatedSite({ teardown: (fn) => cleanups.push(fn) }, '127.82.1', {
      serverYaml: `power: { callTimeoutSeconds: ${callTimeoutSeconds}, pollSeconds: 0 }\n`,
    });
    return { lab, bmc, vm };
  })();
  return shared;
}

test.after.always(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** `sprout …` that must succeed; its stdout. */
async function ok(lab: SiteLab, args: string[], input?: string): Promise<string> {
  const run = await sprout(args, { cwd: lab.server.dir, env: lab.server.env, input });
  if (run.code !== 0) throw new Error(`sprout ${args.join(' ')} exited ${run.code}: ${run.stderr}${run.stdout}`);
  return run.stdout;
}

async function workflowEnded(lab: SiteLab, id: string, timeoutMs = 60_000): Promise<any> {
  return until(
    `workflow ${id} ends`,
    async () => {
      const wf = await lab.api('GET', `/v1/workflows/${id}`);
      return ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(wf.state) && wf;
    },
    timeoutMs,
  );
}

/** The requests the BMC got from index `from` on, as `METHOD path`. */
const requestsSince = (bmc: RedfishBmc, from: number) => bmc.requests.slice(from).map((r) => `${r.method} ${r.path}`);

test.serial('machine create with a Redfish BMC (password on stdin), then power status, on, off and cycle agree with the VM', async (t) => {
  const { lab, bmc, vm } = await setup();
  const created = await ok(
    lab,
    [
      'machine',
      'create',
      'vm-r',
      '--site',
      'lab',
      '--mac',
      mac,
      '--bmc-type',
      'redfish',
      '--bmc-address',
      bmc.address,
      '--bmc-username',
      username,
      '--bmc-password-file',
      '-',
      '--bmc-insecure',
    ],
    `${password}\n`,
  );
  t.regex(created, new RegExp(`bmc:\\s+redfish ${bmc.address} \\(user ${username}\\); credentials: set`));

  t.is((await ok(lab, ['machine', 'power', 'status', 'vm-r'])).trim(), `vm-r: off (redfish ${bmc.address}, checked just now)`);
  t.false(vm.running());

  const on = await ok(lab, ['machine', 'power', 'on', 'vm-r']);
  t.true(vm.running(), 'the VM runs');
  t.is(on, `vm-r: on (redfish ${bmc.address}, checked just now)\n  ComputerSystem.Reset On\n`);
  t.like(await lab.api('GET', '/v1/machines/vm-r/power'), { state: 'on' });

  t.is(await ok(lab, ['machine', 'power', 'off', 'vm-r']), `vm-r: off (redfish ${bmc.address}, checked just now)\n  ComputerSystem.Reset ForceOff\n`);
  t.false(vm.running(), 'the VM stopped');

  const boots = vm.boots;
  const cycled = JSON.parse(await ok(lab, ['machine', 'power', 'cycle', 'vm-r', '--json']));
  t.true(vm.running(), 'a cycle starts a VM that was off');
  t.is(vm.boots, boots + 1);
  t.deepEqual(Object.keys(cycled).sort(), ['action', 'bmc', 'checkedAt', 'machine', 'note', 'state']);
  t.like(cycled, { machine: 'vm-r', action: 'cycle', state: 'on', bmc: { type: 'redfish', address: bmc.address }, note: 'ComputerSystem.Reset On' });
  t.false(Number.isNaN(Date.parse(cycled.checkedAt)), cycled.checkedAt);

  // Cycled while on: the same QEMU process is reset (one boot more), not restarted.
  const pid = vm.pid();
  t.like(JSON.parse(await ok(lab, ['machine', 'power', 'cycle', 'vm-r', '--json'])), { state: 'on', note: 'ComputerSystem.Reset PowerCycle' });
  t.is(vm.boots, boots + 2);
  t.is(vm.pid(), pid);

  await lab.api('POST', '/v1/machines/vm-r/power', { action: 'off' });
  t.false(vm.running());
  const status = JSON.parse(await ok(lab, ['machine', 'power', 'status', 'vm-r', '--json']));
  t.deepEqual(Object.keys(status).sort(), ['action', 'bmc', 'checkedAt', 'machine', 'state']);
  t.like(status, { machine: 'vm-r', action: 'status', state: 'off', bmc: { type: 'redfish', address: bmc.address } });
  t.like((await lab.api('GET', '/v1/machines/vm-r')).power, { state: 'off', error: null });
});

test.serial('commission: check-bmc records the state, power-on sets Pxe Once and starts the VM from the network', async (t) => {
  const { lab, bmc, vm } = await setup();
  t.false(vm.running(), 'the VM is off before');
  const from = bmc.requests.length;
  const bootsBefore = bmc.bootLog.length;
  const started = JSON.parse(await ok(lab, ['machine', 'commission', 'vm-r', '--no-hwtest', '--json']));

  const wf = await until(
    'power-on succeeded',
    async () => {
      const w = await lab.api('GET', `/v1/workflows/${started.id}`);
      if (['failed', 'cancelled', 'timed_out'].includes(w.state)) throw new Error(`commission ended ${w.state}: ${w.error}`);
      return w.steps.find((s: any) => s.name === 'power-on')?.state === 'succeeded' && w;
    },
    60_000,
  );
  t.like(wf.steps[0], { name: 'check-bmc', state: 'succeeded', result: { driver: 'redfish', state: 'off' } });
  t.like(
    wf.steps.find((s: any) => s.name === 'power-on'),
    { result: { driver: 'redfish', was: 'off', action: 'on' } },
  );

  // What the BMC was told, in order: the override (Pxe, once), then On; and the VM booted the network first.
  const sent = bmc.requests.slice(from);
  const patch = sent.findIndex((r) => r.method === 'PATCH' && r.path === '/redfish/v1/Systems/1');
  const reset = sent.findIndex((r) => r.method === 'POST' && r.path === '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset');
  t.true(patch >= 0 && reset > patch, requestsSince(bmc, from).join('\n'));
  t.deepEqual(sent[patch].body, { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } });
  t.deepEqual(sent[reset].body, { ResetType: 'On' });
  t.is(sent.filter((r) => r.path.endsWith('ComputerSystem.Reset')).length, 1, 'one Reset');
  t.true(vm.running(), 'the VM runs');
  t.is(vm.bootDevice(), 'network');
  t.deepEqual(bmc.bootLog.slice(bootsBefore), ['network']);
  t.is(bmc.nextBoot(), 'disk', 'the Once override was spent by that boot');
  t.like((await lab.api('GET', '/v1/machines/vm-r')).power, { state: 'on', error: null });

  // The VM cannot really PXE-boot from the agent here (its NIC is on QEMU's own user
  // network), and a commission step waiting for its machine is not cancelled before it
  // ends (`workflow cancel` acts at step boundaries): the machine simulator plays the
  // VM's network boot and installer from its MAC, and the VM is then powered off as its
  // installer would have done.
  t.is((await lab.simulator.powerOn({ mac })).outcome, 'powered-off');
  t.is((await workflowEnded(lab, started.id)).state, 'succeeded');
  t.is((await lab.api('GET', '/v1/machines/vm-r')).status, 'ready');
  await ok(lab, ['machine', 'power', 'off', 'vm-r']);
  t.false(vm.running());
});

test.serial("a wrong password fails check-bmc with the BMC's 401 words, touches nothing and is never shown", async (t) => {
  const { lab, bmc, vm } = await setup();
  await ok(lab, ['machine', 'update', 'vm-r', '--bmc-password-file', '-'], wrongPassword);
  const from = bmc.requests.length;
  const started = JSON.parse(await ok(lab, ['machine', 'commission', 'vm-r', '--no-hwtest', '--json']));
  const wf = await workflowEnded(lab, started.id);
  t.is(wf.state, 'failed');
  const step = wf.steps.find((s: any) => s.state === 'failed');
  t.is(step?.name, 'check-bmc');
  const words =
    /401 Unauthorized: .*While accessing the resource at '\/redfish\/v1\/SessionService\/Sessions', the service received an authorization error 'invalid user name or password'\./;
  t.regex(wf.error, /^check-bmc: /);
  t.regex(wf.error, words);
  t.regex(wf.error, new RegExp(`redfish ${bmc.address}: log in as ${username}`));
  const machine = await lab.api('GET', '/v1/machines/vm-r');
  t.is(machine.status, 'failed_commissioning');
  t.like(machine.statusReason, { step: 'check-bmc', workflow: started.id });
  t.regex(machine.statusReason.message, words);

  t.false(
    requestsSince(bmc, from).some((r) => r.includes('ComputerSystem.Reset') || r.startsWith('PATCH')),
    requestsSince(bmc, from).join('\n'),
  );
  t.true(
    bmc.requests.slice(from).some((r) => r.status === 401),
    'the BMC refused the login',
  );
  t.false(vm.running(), 'the VM was not touched');

  const [workflowShown, machineShown, audit] = await Promise.all([
    ok(lab, ['workflow', 'show', started.id]),
    ok(lab, ['machine', 'show', 'vm-r']),
    ok(lab, ['audit', 'list', '--limit', '200', '--json']),
  ]);
  t.regex(workflowShown, /check-bmc\s+site\s+failed/);
  t.regex(machineShown, words, 'machine show says why');
  const records = JSON.parse(audit).items;
  t.true(
    records.some((r: any) => r.action === 'machine.update' && r.targetId === machine.id),
    'the password change is audited',
  );
  const views = [JSON.stringify(wf), JSON.stringify(machine), workflowShown, machineShown, audit, lab.server.log(), lab.agent.log()];
  for (const output of views) {
    t.false(output.includes(wrongPassword), 'the wrong password is never shown');
    t.false(output.includes(password), 'nor the right one');
  }
});

for (const [name, bmcAt, says] of [
  ['refuses connections', async () => ({ address: await deadAddress(), close: async () => undefined }), /the BMC could not be reached \(connect ECONNREFUSED/],
  ['accepts but never answers', silentServer, new RegExp(`did not answer within (${callTimeoutSeconds} s|${callTimeoutSeconds * 1000} ms)`)],
] as const) {
  test.serial(`a BMC that ${name} fails check-bmc within the call timeout, naming its address`, async (t) => {
    const { lab, vm } = await setup();
    const target = await bmcAt();
    t.teardown(() => target.close());
    await ok(lab, ['machine', 'update', 'vm-r', '--bmc-address', target.address, '--bmc-password-file', '-'], password);
    const startedAt = Date.now();
    const started = JSON.parse(await ok(lab, ['machine', 'commission', 'vm-r', '--no-hwtest', '--json']));
    const bound = (callTimeoutSeconds + 20) * 1000;
    const wf = await workflowEnded(lab, started.id, bound + 5_000);
    const took = Date.now() - startedAt;
    t.true(took < bound, `check-bmc failed after ${took} ms; the call timeout is ${callTimeoutSeconds} s`);
    t.is(wf.state, 'failed');
    t.is(wf.steps.find((s: any) => s.state === 'failed')?.name, 'check-bmc');
    t.true(wf.error.includes(target.address), wf.error);
    t.regex(wf.error, says);
    const machine = await lab.api('GET', '/v1/machines/vm-r');
    t.like(machine.statusReason, { step: 'check-bmc' });
    t.true(machine.statusReason.message.includes(target.address), machine.statusReason.message);
    t.is(machine.power.state, 'unknown', 'the agent reported that it could not read the power state');
    t.true(machine.power.error.includes(target.address), machine.power.error);
    t.false(vm.running());
  });
}

test.serial('without --bmc-insecure, check-bmc fails saying the certificate is not trusted and that insecure exists', async (t) => {
  const { lab, bmc, vm } = await setup();
  const updated = await ok(lab, ['machine', 'update', 'vm-r', '--bmc-address', bmc.address, '--no-bmc-insecure', '--json']);
  t.false(JSON.parse(updated).bmc.insecure);
  const from = bmc.requests.length;
  const started = JSON.parse(await ok(lab, ['machine', 'commission', 'vm-r', '--no-hwtest', '--json']));
  const wf = await workflowEnded(lab, started.id);
  t.is(wf.state, 'failed');
  t.is(wf.steps.find((s: any) => s.state === 'failed')?.name, 'check-bmc');
  t.regex(wf.error, /TLS certificate was not trusted/);
  t.regex(wf.error, /insecure/);
  t.regex((await lab.api('GET', '/v1/machines/vm-r')).statusReason.message, /certificate was not trusted.*insecure/);
  t.is(bmc.requests.length, from, 'nothing was sent over an untrusted connection');
  t.false(vm.running());
});
