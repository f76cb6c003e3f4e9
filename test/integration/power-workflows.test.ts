/**
 * Workflows really work a machine's power, through the driver its `bmc.type` names, in
 * a real control plane, agent and machine simulator. The manual driver (no BMC): the
 * power-on step says at once who must power the machine on — in `workflow show`, the
 * `--watch` of the command and of `workflow watch`, and `machine show` — and ends when
 * the machine boots. A BMC driver (a recording fixture plugin): commission and deploy set
 * the next boot to the network and power on, or cycle a machine that is on; deploy ends
 * with the next boot on disk; release powers off; a BMC's refusal fails the step with
 * its words; an unknown `bmc.type` fails naming the installed ones.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { spawnSprout } from '@sprout/test-support/processes.ts';
import { simulatedSite, type SimulatedSite } from '@sprout/test-support/site-lab.ts';
import { until } from '@sprout/test-support/until.ts';

const fakePowerPlugins = fileURLToPath(new URL('../fixtures/power-fake', import.meta.url));
const natsUrl = process.env.SPROUT_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

const transports = [
  { name: 'http', subnet: '127.81.1', env: {} as Record<string, string>, yaml: '' },
  {
    name: 'nats',
    subnet: '127.81.2',
    env: { SPROUT_NATS_URL: natsUrl } as Record<string, string>,
    yaml: `plugins:\n  transport-nats: { prefix: p${randomBytes(3).toString('hex')} }\n`,
  },
];

async function machineIn(lab: SimulatedSite, hostname: string, status: string, timeoutMs = 60_000): Promise<any> {
  return until(
    `${hostname} ${status}`,
    async () => {
      const m = await lab.api('GET', `/v1/machines/${hostname}`);
      return m.status === status && m;
    },
    timeoutMs,
  );
}

const createMachine = (lab: SimulatedSite, hostname: string, mac: string, bmc?: Record<string, unknown>) =>
  lab.api('POST', '/v1/machines', { site: 'lab', hostname, arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac }], ...(bmc ? { bmc } : {}) });

for (const transport of transports) {
  test.serial(
    `${transport.name}: a manual power-on says within 2 s who must power the machine on, in workflow show, --watch and machine show, and ends when it boots`,
    async (t) => {
      const lab = await simulatedSite(t, transport.subnet, { env: transport.env, serverYaml: transport.yaml });
      const mac = `52:54:00:81:0${transport.name === 'http' ? 1 : 2}:01`;
      await createMachine(lab, 'node-01', mac);
      const message = 'waiting for someone to power on node-01 (manual power driver)';
      const watch = spawnSprout(['machine', 'commission', 'node-01', '--no-hwtest', '--watch'], { cwd: lab.server.dir, env: lab.server.env });
      t.teardown(() => watch.stop('SIGKILL'));
      await watch.waitFor(message, 90_000);
      const printedAt = Date.now();

      const [wf] = (await lab.api('GET', '/v1/workflows?machine=node-01')).items;
      const step = wf.steps.find((s: any) => s.name === 'power-on');
      t.is(step.state, 'running', 'the step waits for the machine');
      t.true(printedAt - Date.parse(step.startedAt) <= 2000, `--watch printed the message ${printedAt - Date.parse(step.startedAt)} ms after the step started`);
      t.regex(watch.log(), /power-on\s+\| waiting for someone to power on node-01 \(manual power driver\)/);
      t.like(wf.steps[0], { name: 'check-bmc', state: 'succeeded', result: { driver: 'manual', state: 'unknown' } });

      const shown = (await lab.cli('workflow', 'show', wf.id)).stdout;
      t.regex(shown, /power-on\s+site\s+running\s+1\s+[\d.]+ m?s\s+waiting for someone to power on node-01 \(manual power driver\)/);
      const machine = (await lab.cli('machine', 'show', 'node-01')).stdout;
      t.regex(machine, /^\s+now: power-on — waiting for someone to power on node-01 \(manual power driver\)$/m);
      const watched = await lab.cli('workflow', 'watch', wf.id, '--timeout', '2');
      t.true(watched.stdout.includes(message), watched.stdout);

      // Nobody pressed the button yet: the step still waits. Then the machine boots.
      t.is((await lab.api('GET', `/v1/workflows/${wf.id}`)).steps.find((s: any) => s.name === 'power-on').state, 'running');
      const booted = await lab.simulator.powerOn({ mac });
      t.is(booted.outcome, 'powered-off', JSON.stringify(booted));
      await watch.waitFor('commission succeeded', 60_000);
      const done = await lab.api('GET', `/v1/workflows/${wf.id}`);
      const powerOn = done.steps.find((s: any) => s.name === 'power-on');
      t.like(powerOn, { state: 'succeeded', result: { driver: 'manual', action: 'on' } });
      t.true(['dhcp', 'http'].includes(powerOn.result.seen));
      t.true(
        powerOn.logTail.some((l: string) => l.startsWith(`node-01 is up: saw`) && l.includes(mac)),
        powerOn.logTail.join('\n'),
      );
      await machineIn(lab, 'node-01', 'ready');
    },
  );
}

test.serial(
  "a BMC driver plugin: power on (cycle when on) with the next boot on the network, the disk after deploy, off at release; the BMC's refusal and an unknown bmc type fail the step",
  async (t) => {
    const fake = mkdtempSync(join(tmpdir(), 'sprout-power-fake-'));
    t.teardown(() => rmSync(fake, { recursive: true, force: true }));
    // The control plane and the agent both have the fixture plugins: `fake` (both halves) and `elsewhere` (control plane only).
    const lab = await simulatedSite(t, '127.81.3', {
      env: { POWER_FAKE_DIR: fake, SPROUT_PLUGIN_DIR: fakePowerPlugins },
      agentYaml: [`pluginDir: ${fakePowerPlugins}`],
    });
    const ops = (): { op: string; hostname: string; device?: string }[] =>
      existsSync(join(fake, 'ops.jsonl'))
        ? readFileSync(join(fake, 'ops.jsonl'), 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l))
        : [];
    const opsOf = (hostname: string, from = 0) =>
      ops()
        .filter((o) => o.hostname === hostname)
        .slice(from)
        .map((o) => (o.device ? `${o.op}:${o.device}` : o.op));
    /** The fixture BMC was told to start the machine: the simulated machine starts. */
    const bootWhenTold = async (hostname: string, mac: string, from: number) => {
      await until(`${hostname}'s BMC told to start it`, async () => opsOf(hostname, from).some((o) => o === 'on' || o === 'cycle'));
      return lab.simulator.powerOn({ mac });
    };

    const mac = '52:54:00:81:03:01';
    await createMachine(lab, 'node-01', mac, { type: 'fake', address: '198.18.81.1', username: 'admin' });
    await lab.api('POST', '/v1/machines/node-01/commission', { hwtest: false });
    t.is((await bootWhenTold('node-01', mac, 0)).outcome, 'powered-off');
    await machineIn(lab, 'node-01', 'ready');
    t.deepEqual(opsOf('node-01'), ['checkCredentials', 'state', 'setNextBoot:network', 'on']);
    const [commission] = (await lab.api('GET', '/v1/workflows?machine=node-01&kind=commission')).items;
    t.like(commission.steps[0], { name: 'check-bmc', result: { driver: 'fake', state: 'off' } });
    t.like(
      commission.steps.find((s: any) => s.name === 'power-on'),
      { result: { driver: 'fake', was: 'off', action: 'on' } },
    );

    // The BMC still says on (the machine powered itself off, the fixture does not know): deploy cycles it.
    writeFileSync(join(lab.images, 'debian.raw'), randomBytes(300_000));
    await lab.imageReported('debian.raw');
    const before = opsOf('node-01').length;
    await lab.api('POST', '/v1/machines/node-01/deploy', { image: 'debian.raw' });
    t.is((await bootWhenTold('node-01', mac, before)).outcome, 'local-boot');
    await machineIn(lab, 'node-01', 'deployed');
    // While the deploy waits for the installed OS's first boot, the power poll may read the state: reads only.
    const deployOps = opsOf('node-01', before);
    t.deepEqual(deployOps.slice(0, 4), ['state', 'setNextBoot:network', 'cycle', 'setNextBoot:disk']);
    t.deepEqual(
      deployOps.slice(4).filter((op: string) => op !== 'state'),
      [],
      deployOps.join(' '),
    );
    const [deploy] = (await lab.api('GET', '/v1/workflows?machine=node-01&kind=deploy')).items;
    t.deepEqual(deploy.steps.map((s: any) => s.name).slice(-5), ['power-on', 'install', 'set-local-boot', 'boot-disk', 'first-boot']);
    t.like(
      deploy.steps.find((s: any) => s.name === 'power-on'),
      { result: { driver: 'fake', was: 'on', action: 'cycle' } },
    );

    const released = opsOf('node-01').length;
    await lab.api('POST', '/v1/machines/node-01/release', {});
    await machineIn(lab, 'node-01', 'ready');
    // The power poll's state reads may come between: the release's only action is off.
    t.deepEqual(
      opsOf('node-01', released).filter((op: string) => op !== 'state'),
      ['off'],
    );
    const [release] = (await lab.api('GET', '/v1/workflows?machine=node-01&kind=release')).items;
    t.like(release.steps[0], { name: 'power-off', state: 'succeeded', result: { driver: 'fake', state: 'off' } });

    // A BMC that refuses: the step fails with what the BMC said.
    await createMachine(lab, 'node-02', '52:54:00:81:03:02', { type: 'fake', address: 'refuse.bmc.lab' });
    await lab.api('POST', '/v1/machines/node-02/commission', { hwtest: false });
    const refused = await machineIn(lab, 'node-02', 'failed_commissioning');
    t.like(refused.statusReason, { step: 'check-bmc' });
    t.regex(
      refused.statusReason.message,
      /check-bmc: checkCredentials node-02: BMC at refuse\.bmc\.lab answered: Command not supported in present state \(0xd5\)/,
    );

    // A bmc type the control plane knows but no driver of this agent serves: the step names the installed ones.
    await createMachine(lab, 'node-03', '52:54:00:81:03:03', { type: 'elsewhere' });
    await lab.api('POST', '/v1/machines/node-03/commission', { hwtest: false });
    const unknown = await machineIn(lab, 'node-03', 'failed_commissioning');
    t.regex(
      unknown.statusReason.message,
      /no power driver for bmc type "elsewhere" \(machine node-03\) on this agent; installed: fake, ipmi, lab, manual, redfish/,
    );
    t.deepEqual(opsOf('node-03'), [], 'no driver was asked');
  },
);
