/**
 * The README's main job: `sprout lab demo` on the embedded defaults ends with the
 * simulated machine `deployed` and its audit trail, and cleans up; `sprout lab up`,
 * `status` and `down` keep a lab running that the ordinary CLI can use.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSprout, sprout } from '@sprout/test-support/processes.ts';

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-labtest-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('lab demo commissions and deploys a simulated machine, prints the story and the audit trail, and leaves nothing behind', async (t) => {
  t.timeout(180_000);
  const cwd = scratch(t);
  const env = { TMPDIR: cwd, XDG_CONFIG_HOME: join(cwd, 'home') };
  const started = Date.now();
  const run = await sprout(['lab', 'demo'], { cwd, env });
  t.true(Date.now() - started < 120_000, `the demo takes under 2 minutes (took ${Date.now() - started} ms)`);
  t.is(run.code, 0, `${run.stdout}\n${run.stderr}`);
  const out = run.stdout;
  t.regex(out.split('\n')[0], /^\d\d:\d\d:\d\d {2}loading the control plane and the site agent…$/, 'the demo says something before its silent start');
  // each workflow step with its timing, in the order the engine ran them
  const order = [
    'check-bmc',
    'allocate-ip',
    'reserve-dhcp',
    'write-dns',
    'publish-boot-intent',
    'power-on',
    'commission',
    'power-on',
    'install',
    'set-local-boot',
    'boot-disk',
  ];
  let from = 0;
  for (const step of order) {
    const at = out.slice(from).search(new RegExp(`\\s${step}\\s+succeeded\\s+[\\d.]+ (ms|s)`));
    t.true(at >= 0, `${step} succeeded after position ${from}\n${out}`);
    from += at + 1;
  }
  // the power steps worked the lab's BMC (the simulator's power switch), with what they did
  const result = (step: string) =>
    out
      .split('\n')
      .filter((l) => new RegExp(`\\s${step}\\s+succeeded\\s`).test(l))
      .map((l) =>
        l
          .split(/\s+/)
          .filter((w) => w.includes('='))
          .sort()
          .join(' '),
      );
  t.deepEqual(result('check-bmc'), ['driver=lab state=off']);
  t.deepEqual(result('power-on'), ['action=on driver=lab was=off', 'action=on driver=lab was=off']);
  t.deepEqual(result('boot-disk'), ['device=disk driver=lab']);
  t.regex(out, /node-01 power\s+power on \(lab power switch\), boots from network/);
  t.regex(out, /node-01 power\s+next boot device disk \(lab power switch\)/);
  t.regex(out, /node-01 power off, next boot network, 1 start\(s\) \(lab power switch\)/);
  t.regex(out, /node-01 power on, next boot disk, 2 start\(s\) \(lab power switch\)/);
  t.regex(out, /commission succeeded/);
  t.regex(out, /deploy succeeded/);
  // what the machine did on the wire
  t.regex(out, /node-01 dhcp/);
  t.regex(out, /node-01 tftp/);
  t.regex(out, /node-01 local-boot/);
  t.regex(out, /node-01 ready: cpus=4 disks=1 diskBytes=\d+ memoryMiB=4096; tests cpu-inventory passed/);
  t.regex(out, /node-01\s+deployed/);
  t.regex(out, /audit trail \(\d+ records\)/);
  t.regex(out, /machine\.commission\s+machine:[0-9a-f]{8}\s+success/);
  t.regex(out, /machine\.deploy\s+machine:[0-9a-f]{8}\s+success/);
  t.regex(out, /done: 1 of 1 machine\(s\) deployed/);
  // What both processes counted, scraped from their /metrics after the run.
  t.regex(out, /metrics after the run \(http:\/\/127\.0\.0\.1:\d+\/metrics, http:\/\/127\.0\.0\.1:\d+\/metrics\)/);
  t.regex(out, /control plane\s+sprout_workflows_total\{[^}]*kind="deploy"[^}]*outcome="succeeded"[^}]*\} 1\n/);
  t.regex(out, /control plane\s+sprout_workflows_total\{[^}]*kind="commission"[^}]*outcome="succeeded"[^}]*\} 1\n/);
  t.regex(out, /agent\s+sprout_agent_dhcp_messages_total\{type="request"\} [1-9]\d*\n/);
  t.regex(out, /agent\s+sprout_agent_tftp_transfers_total\{outcome="completed"\} [1-9]\d*\n/);
  t.regex(out, /agent\s+sprout_agent_http_boot_requests_total\{kind="script"\} [1-9]\d*\n/);
  t.regex(out, /agent\s+sprout_agent_power_actions_total\{[^}]*driver="lab"[^}]*\} [1-9]\d*\n/);
  t.deepEqual(
    readdirSync(cwd).filter((f) => f.startsWith('sprout-lab-demo-')),
    [],
    'the temporary lab folder is removed',
  );
});

test('lab up keeps a lab running that the CLI can use; status shows it; down stops it', async (t) => {
  t.timeout(240_000);
  const cwd = scratch(t);
  const dir = join(cwd, 'lab');
  const env = { XDG_CONFIG_HOME: join(cwd, 'home') };
  t.teardown(() => void sprout(['lab', 'down', '--dir', dir], { cwd, env }));

  t.is((await sprout(['lab', 'status', '--dir', dir], { cwd, env })).code, 1, 'no lab yet');
  const up = await sprout(['lab', 'up', '--dir', dir, '--port', '0', '--json'], { cwd, env });
  t.is(up.code, 0, up.stderr);
  const info = JSON.parse(up.stdout);
  t.regex(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.is((await sprout(['lab', 'up', '--dir', dir, '--port', '0'], { cwd, env })).code, 1, 'a second lab in the same folder is refused');

  const exported = await sprout(['lab', 'status', '--dir', dir, '--env'], { cwd, env });
  const labEnv = Object.fromEntries([...exported.stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
  t.is(labEnv.SPROUT_URL, info.url);
  const created = await sprout(['machine', 'create', 'explorer-1', '--site', 'lab', '--mac', '52:54:00:5e:10:01'], { cwd, env: { ...env, ...labEnv } });
  t.is(created.code, 0, created.stderr);
  const status = await sprout(['lab', 'status', '--dir', dir], { cwd, env });
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /^AGENT\s+STATUS\s+LAST SEEN$/m);
  t.regex(status.stdout, /lab-agent\s+online\s+\d{4}-\d\d-\d\dT[\d:.]+Z$/m, 'LAST SEEN is the last heartbeat, not "-"');
  t.regex(status.stdout, /explorer-1\s+new/);

  // the machine is played by `sprout lab simulate`, exactly as `lab status` says to run it
  const play = /play machines: sprout (lab simulate .*) --mac \S+$/m.exec(status.stdout)![1].split(' ');
  const commission = await sprout(['machine', 'commission', 'explorer-1', '--test', 'cpu-inventory'], { cwd, env: { ...env, ...labEnv } });
  t.is(commission.code, 0, commission.stderr);
  const simulated = await sprout([...play, '--mac', '52:54:00:5e:10:01', '--timeout', '60'], { cwd, env });
  t.is(simulated.code, 0, `${simulated.stdout}\n${simulated.stderr}`);
  t.regex(simulated.stdout, /commission-complete/);
  const shown = await sprout(['machine', 'show', 'explorer-1', '--json'], { cwd, env: { ...env, ...labEnv } });
  t.is(JSON.parse(shown.stdout).status, 'ready');

  // a machine with the lab's BMC: `lab simulate --power-port` (as `lab status` says) leaves it off, the workflow powers it
  const powered = /lab power: +machines created with --bmc-type lab --bmc-address (\S+) .*\n +sprout (lab simulate .*) --mac \S+$/m.exec(status.stdout);
  t.truthy(powered, status.stdout);
  const [, switchUrl, playPowered] = powered!;
  t.is(switchUrl, info.services.power);
  const labCli = (...args: string[]) => sprout(args, { cwd, env: { ...env, ...labEnv } });
  t.is(
    (await labCli('machine', 'create', 'explorer-2', '--site', 'lab', '--mac', '52:54:00:5e:10:02', '--bmc-type', 'lab', '--bmc-address', switchUrl)).code,
    0,
  );
  const player = spawnSprout([...playPowered.split(' '), '--mac', '52:54:00:5e:10:02', '--timeout', '120'], { cwd, env });
  t.teardown(() => player.stop());
  await player.waitFor('1 machine(s) plugged in, off');
  const watched = await labCli('machine', 'commission', 'explorer-2', '--test', 'cpu-inventory', '--watch');
  t.is(watched.code, 0, `${watched.stdout}\n${watched.stderr}\n${player.log()}`);
  t.regex(watched.stdout, /check-bmc\s+succeeded.*driver=lab/);
  t.regex(watched.stdout, /powered on explorer-2 \(it was off\) through its lab BMC/);
  await player.stop('SIGINT');
  t.regex(player.log(), /power on \(lab power switch\), boots from network/);
  t.regex(player.log(), /52:54:00:5e:10:02: power off, next boot network, 1 start\(s\), last boot ended powered-off$/m);

  const down = await sprout(['lab', 'down', '--dir', dir], { cwd, env });
  t.is(down.code, 0, down.stderr);
  t.regex(down.stdout, new RegExp(`stopped the lab \\(pid ${info.pid}\\)`));
  t.is((await sprout(['lab', 'status', '--dir', dir], { cwd, env })).code, 1);
  t.true(existsSync(join(dir, 'control-plane')), 'the data stays for the next `lab up`');

  // a restart on another port keeps the machines, and the agent follows the control plane there
  const again = await sprout(['lab', 'up', '--dir', dir, '--port', '0', '--json'], { cwd, env });
  t.is(again.code, 0, again.stderr);
  t.not(JSON.parse(again.stdout).url, info.url);
  const restarted = await sprout(['lab', 'status', '--dir', dir], { cwd, env });
  t.regex(restarted.stdout, /lab-agent\s+online/);
  t.regex(restarted.stdout, /explorer-1\s+ready/);
  t.is((await sprout(['lab', 'down', '--dir', dir], { cwd, env })).code, 0);
  t.is((await sprout(['lab', 'down', '--dir', dir, '--purge'], { cwd, env })).code, 0);
  t.false(existsSync(dir));
});
