/**
 * When provisioning fails, an operator sees why where they look first: `sprout machine
 * show` opens with the failure state and an actionable reason, the API carries status
 * and reason, and the audit trail has the transition. Simulated machines boot from a
 * real agent and control plane; each failure is injected on the wire, never faked in
 * the database.
 */
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simulatedSite, type SimulatedSite } from '@sprout/test-support/site-lab.ts';
import { until } from '@sprout/test-support/until.ts';

async function machineIn(lab: SimulatedSite, hostname: string, status: string, timeoutMs = 30_000): Promise<any> {
  return until(
    `${hostname} ${status}`,
    async () => {
      const m = await lab.api('GET', `/v1/machines/${hostname}`);
      return m.status === status && m;
    },
    timeoutMs,
  );
}

/** What an operator sees: the first lines of `machine show`, the API's machine, the audit record of the transition into `status`. */
async function whatOperatorsSee(lab: SimulatedSite, hostname: string, status: string) {
  const shown = await lab.cli('machine', 'show', hostname);
  const json = JSON.parse((await lab.cli('machine', 'show', hostname, '--json')).stdout);
  const audit = JSON.parse((await lab.cli('audit', 'list', '--target', json.id, '--action', 'machine.transition', '--json')).stdout).items;
  const record = audit.find((r: any) => r.details.status?.new === status);
  // The reason, where it happened and the log lines under it: everything above the blank line.
  const firstLines = shown.stdout.split('\n\n')[0]!;
  return { firstLines, machine: json, record };
}

async function createMachine(lab: SimulatedSite, hostname: string, mac: string): Promise<void> {
  await lab.api('POST', '/v1/machines', { site: 'lab', hostname, arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac }] });
}

/** Commissions without hardware tests, the simulated machine booting for it, and waits for ready. */
async function readyMachine(lab: SimulatedSite, hostname: string, mac: string): Promise<void> {
  await createMachine(lab, hostname, mac);
  await lab.api('POST', `/v1/machines/${hostname}/commission`, { hwtest: false });
  const commissioned = await lab.simulator.powerOn({ mac });
  if (commissioned.outcome !== 'powered-off') throw new Error(`commissioning ${hostname}: ${JSON.stringify(commissioned)}`);
  await machineIn(lab, hostname, 'ready');
}

test.serial('a failing hardware test: failed_testing, naming the test and what it found', async (t) => {
  const lab = await simulatedSite(t, '127.78.1');
  const mac = '52:54:00:78:01:01';
  await createMachine(lab, 'fv-hwtest', mac);
  await lab.api('POST', '/v1/machines/fv-hwtest/commission', { hwtest: ['cpu-inventory', 'memory-size', 'disk-presence'] });
  const result = await lab.simulator.powerOn({ mac, fail: 'hwtest-fails', failTest: 'memory-size' });
  t.is(result.outcome, 'powered-off');
  await machineIn(lab, 'fv-hwtest', 'failed_testing');

  const { firstLines, machine, record } = await whatOperatorsSee(lab, 'fv-hwtest', 'failed_testing');
  t.regex(
    firstLines,
    /^fv-hwtest\s+FAILED_TESTING\s+— commission failed in step commission: hardware test memory-size failed: DIMM A1 reports uncorrectable ECC errors/,
  );
  t.regex(firstLines, /\n {2}reason: step commission, workflow [\w-]+, code step_failed/);
  t.deepEqual(machine.statusReason.failedTests, ['memory-size']);
  t.is(machine.statusReason.step, 'commission');
  t.like(
    machine.hardwareTests.find((h: any) => h.name === 'memory-size'),
    { status: 'failed' },
  );
  t.truthy(record, 'the audit trail has the transition to failed_testing');
  t.regex(record.details.reason.message, /hardware test memory-size failed/);
});

test.serial('an image checksum mismatch: failed_deployment, naming the expected and the actual sum', async (t) => {
  const lab = await simulatedSite(t, '127.78.2');
  const mac = '52:54:00:78:02:01';
  const image = randomBytes(2_000_000);
  writeFileSync(join(lab.images, 'debian.raw'), image);
  await readyMachine(lab, 'fv-sum', mac);
  await lab.api('POST', '/v1/machines/fv-sum/deploy', { image: 'debian.raw' });
  const result = await lab.simulator.powerOn({ mac, fail: 'image-checksum-mismatch' });
  t.is(result.outcome, 'powered-off');
  await machineIn(lab, 'fv-sum', 'failed_deployment');

  const expected = createHash('sha256').update(image).digest('hex');
  const corrupted = Buffer.from(image);
  corrupted[0] ^= 0x01;
  const actual = createHash('sha256').update(corrupted).digest('hex');
  const { firstLines, machine, record } = await whatOperatorsSee(lab, 'fv-sum', 'failed_deployment');
  const reason = `image checksum mismatch: expected ${expected}, got ${actual}`;
  t.true(firstLines.startsWith(`fv-sum  FAILED_DEPLOYMENT  — deploy failed in step install: ${reason}`), firstLines);
  t.true(firstLines.includes(`| sha256sum: ${actual}`), 'the installer log line is shown under the reason');
  t.is(machine.statusReason.step, 'install');
  t.true(machine.statusReason.message.includes(reason));
  t.true(record?.details.reason.message.includes(reason), JSON.stringify(record));

  // Its boot intent ended with the step: powered on again, it is not sent back into the
  // installer (nor kept waiting for a step that already failed); it is refused and leaves
  // iPXE for its disk, which holds nothing the failed install left bootable.
  const since = Date.now();
  const again = lab.simulator.powerOn({ mac });
  const refused = await until(
    'the next PXE boot to be refused',
    async () => lab.events.find((e) => e.mac === mac && e.at >= since && e.kind === 'refused'),
    30_000,
  );
  lab.simulator.powerOff(mac);
  await again;
  t.regex(refused.detail, /the agent does not network-boot this machine now|no boot intent for/);
  const booted = lab.events.filter((e) => e.mac === mac && e.at >= since);
  t.false(
    booted.some((e) => e.kind === 'metadata' || (e.kind === 'script' && e.detail.startsWith('installer'))),
    `no installer on the next boot: ${booted.map((e) => `${e.kind} ${e.detail}`).join('\n')}`,
  );
  t.false(
    booted.some((e) => e.kind === 'local-boot'),
    'the disk the failed install wrote boots nothing',
  );
});

test.serial('a machine that never calls back: failed_deployment by the watchdog, naming the step it waited in', async (t) => {
  // Long enough for the manual power-on and the boot into the installer on a loaded machine: the watchdog must find it waiting in install.
  const lab = await simulatedSite(t, '127.78.3', { serverYaml: 'lifecycle: { timeouts: { deploying: 40 }, watchdogIntervalSeconds: 0.5 }\n' });
  const mac = '52:54:00:78:03:01';
  writeFileSync(join(lab.images, 'debian.raw'), randomBytes(100_000));
  await readyMachine(lab, 'fv-silent', mac);
  await lab.api('POST', '/v1/machines/fv-silent/deploy', { image: 'debian.raw' });
  const running = lab.simulator.powerOn({ mac, fail: 'no-callback' });
  // While it hangs, both views say when the machine was last heard from (its installer fetched its metadata).
  const deploy = await until(
    'the install step heard from the machine',
    async () => {
      const m = await lab.api('GET', '/v1/machines/fv-silent');
      const wf = m.currentWorkflow && (await lab.api('GET', `/v1/workflows/${m.currentWorkflow}`));
      return wf?.steps.find((s: any) => s.name === 'install' && s.state === 'running' && s.machineHeardAt) && wf;
    },
    30_000,
  );
  const heard = Date.parse(deploy.steps.find((s: any) => s.name === 'install').machineHeardAt);
  t.true(heard > Date.now() - 60_000 && heard <= Date.now() + 1000, 'stamped by the agent when the machine spoke');
  const show = await lab.cli('workflow', 'show', deploy.id);
  t.regex(show.stdout, /^now: install running for \d+ s\b.*\nthe machine was last heard from \d+ s ago/m);
  t.regex(show.stdout, /\| fv-silent fetched its metadata \(step install\)/);
  t.regex((await lab.cli('machine', 'show', 'fv-silent')).stdout, /^\s+the machine was last heard from \d+ s ago/m);
  await machineIn(lab, 'fv-silent', 'failed_deployment', 90_000);
  lab.simulator.powerOff(mac);
  t.is((await running).outcome, 'powered-off');
  t.true(
    lab.events.some((e) => e.kind === 'metadata' && e.detail.startsWith('step install')),
    'the machine did boot the installer',
  );

  const { firstLines, machine, record } = await whatOperatorsSee(lab, 'fv-silent', 'failed_deployment');
  t.regex(firstLines, /^fv-silent\s+FAILED_DEPLOYMENT\s+— deploying timed out after \d+ s waiting in step install/);
  t.regex(firstLines, /\n {2}\| waiting for machine [\w-]+ to boot the installer and call back/, 'the step log says what it waited for');
  t.is(machine.statusReason.code, 'watchdog_timeout');
  t.is(machine.statusReason.step, 'install');
  t.regex(record?.details.reason.message ?? '', /waiting in step install/);
});

test.serial(
  'an installed OS that never reports its first boot: failed_deployment at the first-boot deadline, naming the installer and the silence',
  async (t) => {
    const lab = await simulatedSite(t, '127.78.5', { serverYaml: 'lifecycle: { timeouts: { firstBoot: 4 } }\n' });
    const mac = '52:54:00:78:05:01';
    writeFileSync(join(lab.images, 'debian.raw'), randomBytes(100_000));
    await readyMachine(lab, 'fv-os-silent', mac);
    const started = Date.now();
    await lab.api('POST', '/v1/machines/fv-os-silent/deploy', { image: 'debian.raw' });
    t.is((await lab.simulator.powerOn({ mac, fail: 'os-silent' })).outcome, 'local-boot');
    t.true(
      lab.events.some((e) => e.kind === 'first-boot'),
      'the installed OS booted and read its seed',
    );
    await machineIn(lab, 'fv-os-silent', 'failed_deployment', 40_000);
    const { firstLines, machine } = await whatOperatorsSee(lab, 'fv-os-silent', 'failed_deployment');
    t.is(machine.statusReason.step, 'first-boot');
    t.regex(machine.statusReason.message, /the installer finished at \S+; cloud-init fetched its vendor-data at \S+; the installed OS never called back/);
    t.regex(firstLines, /FAILED_DEPLOYMENT/);
    t.true(Date.now() - started < 40_000, 'within the deadline plus the deploy itself');
  },
);

test.serial('an agent killed mid-deploy and restarted: the deploy resumes and the machine ends deployed', async (t) => {
  let killed = false;
  let lab: SimulatedSite | undefined;
  lab = await simulatedSite(t, '127.78.4', {
    onEvent: (e) => {
      // The moment the installer has its metadata, before the image: the agent dies.
      if (!killed && lab && e.kind === 'metadata' && e.detail.startsWith('step install')) {
        killed = true;
        process.kill(lab.agent.child.pid!, 'SIGKILL');
      }
    },
  });
  const mac = '52:54:00:78:04:01';
  const image = randomBytes(4_000_000);
  writeFileSync(join(lab.images, 'debian.raw'), image);
  await readyMachine(lab, 'fv-agent', mac);
  await lab.api('POST', '/v1/machines/fv-agent/deploy', { image: 'debian.raw' });
  const interrupted = await lab.simulator.powerOn({ mac });
  t.true(killed);
  t.is(interrupted.outcome, 'error', 'the image download broke off with the agent');
  await lab.agent.stop(); // reaps the killed process
  t.is((await lab.api('GET', '/v1/machines/fv-agent')).status, 'deploying');

  await lab.startAgent(lab.services);
  const resumed = await lab.simulator.powerOn({ mac });
  t.is(resumed.outcome, 'local-boot', JSON.stringify(lab.events.slice(-8), null, 1));
  const machine = await machineIn(lab, 'fv-agent', 'deployed');
  t.is(machine.statusReason, null);
  const sum = createHash('sha256').update(image).digest('hex');
  t.true(lab.events.some((e) => e.kind === 'download' && e.detail.includes(`sha256 ${sum} (as expected)`)));
});
