/**
 * A real IPMI BMC for tests: OpenIPMI's `ipmi_sim` on 127.0.0.1 (a free UDP port) with
 * one admin user, working the power and boot order of a QEMU VM (PowerVm).
 *
 * Debian's openipmi ships no configuration, so the harness writes all of it: the LAN
 * config (-c), an emulator command file that creates the BMC (-f) and a state dir (-s).
 * ipmi_sim sets the boot device only through a `chassis_control` program, so that program
 * does the power operations too. ipmitool resends a request that takes longer than about
 * a second, so the program answers at once: it records the request (`set power 1`,
 * `set boot pxe`, `set reset 1`, `set shutdown 1`) in a file this process watches and
 * carries out against the VM, and answers `get power`/`get boot` from state files.
 *
 * Like a real BMC, a `pxe` boot device applies to the next boot only: once the VM has
 * started from the network, the next boot is the disk again.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnLogged, type Spawned } from './netns.ts';
import { powerVm, type PowerVm, type PowerVmOptions } from './power-vm.ts';

export interface IpmiBmcOptions {
  username?: string;
  password?: string;
  /** The VM's options (name, qemuArgs, firmware…); its files go in the BMC's folder. */
  vm?: Partial<PowerVmOptions>;
  /**
   * Where ipmi_sim and the VM run: default host processes on 127.0.0.1. An e2e test
   * passes its namespace's `spawn` and address, so the agent inside reaches the BMC and
   * the VM gets the namespace's tap.
   */
  spawn?: (command: string, args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }) => Spawned;
  host?: string;
}

export interface IpmiBmc {
  /** `127.0.0.1:PORT`, as bmc.address. */
  address: string;
  username: string;
  password: string;
  vm: PowerVm;
  /** The boot device the BMC holds for the next boot. */
  nextBoot(): 'network' | 'disk' | 'unknown';
  /** Every request ipmi_sim handed to chassis_control, in order (`power 1`, `boot pxe`, `reset 1`…). */
  operations(): string[];
  /** ipmi_sim's output and what the harness did, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** A UDP port nothing listens on right now. */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

function requireCommand(command: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${command} is not installed: apt-get install -y --no-install-recommends ${pkg}`);
  }
}

/** The chassis_control program: answers at once, leaves the work to the harness. */
function controlScript(dir: string): string {
  return `#!/bin/sh
# ipmi_sim's chassis_control hook (written by test-support/src/ipmi-bmc.ts).
d='${dir}'
case "$1 $2" in
  "get power") printf 'power:%s\\n' "$(cat "$d/power")" ;;
  "get boot") printf 'boot:%s\\n' "$(cat "$d/boot")" ;;
  "set power") echo "$3" > "$d/power"; echo "power $3" >> "$d/requests" ;;
  "set boot") echo "$3" > "$d/boot"; echo "boot $3" >> "$d/requests" ;;
  "set "*) echo "$2 $3" >> "$d/requests" ;;
  *) echo "unknown $*" >> "$d/requests"; exit 1 ;;
esac
exit 0
`;
}

function lanConf(name: string, host: string, port: number, control: string, username: string, password: string): string {
  const auths = 'none md2 md5 straight';
  return `name "${name}"
set_working_mc 0x20
  startlan 1
    addr ${host} ${port}
    priv_limit admin
    allowed_auths_callback ${auths}
    allowed_auths_user ${auths}
    allowed_auths_operator ${auths}
    allowed_auths_admin ${auths}
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "${control}"
user 2 true "${username}" "${password}" admin 10 ${auths}
`;
}

const emulatorCommands = `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
`;

export async function startIpmiBmc(options: IpmiBmcOptions = {}): Promise<IpmiBmc> {
  requireCommand('ipmi_sim', 'openipmi');
  requireCommand('ipmitool', 'ipmitool');
  const username = options.username ?? 'admin';
  const password = options.password ?? 'sprout-bmc-pw';
  const dir = mkdtempSync(join(tmpdir(), 'ipmi-bmc-'));
  const port = await freeUdpPort();
  const name = options.vm?.name ?? `bmc${port}`;
  const spawn = options.spawn ?? spawnLogged;
  const host = options.host ?? '127.0.0.1';
  const vm = powerVm({ spawn, ...options.vm, name, dir });
  const control = join(dir, 'chassis-control.sh');
  const file = (f: string) => join(dir, f);
  // Replaced whole (rename), so the hook never reads a half-written file.
  const writeState = (f: string, value: string) => {
    writeFileSync(file(`${f}.tmp`), `${value}\n`);
    renameSync(file(`${f}.tmp`), file(f));
  };
  writeState('power', '0');
  writeState('boot', 'default');
  writeFileSync(file('requests'), '');
  writeFileSync(control, controlScript(dir));
  chmodSync(control, 0o755);
  writeFileSync(file('lan.conf'), lanConf(name, host, port, control, username, password));
  writeFileSync(file('bmc.emu'), emulatorCommands);
  mkdirSync(file('state'));

  let harnessLog = '';
  const note = (line: string): void => {
    harnessLog += `${new Date().toISOString()} ${line}\n`;
  };
  const ops: string[] = [];
  let offset = 0;
  let work = Promise.resolve();
  let pending = 0;

  const readState = (f: string) => readFileSync(file(f), 'utf8').trim();
  const nextDevice = (): 'network' | 'disk' => (readState('boot') === 'pxe' ? 'network' : 'disk');
  /** A PXE boot device is used up by the boot it applies to. */
  const booted = () => {
    if (readState('boot') === 'pxe') {
      writeState('boot', 'default');
      note('boot device pxe used: next boot from disk');
    }
  };

  async function carryOut(request: string): Promise<void> {
    const [what, value] = request.split(' ');
    if (what === 'power' && value === '1') {
      if (!vm.running()) {
        await vm.start(nextDevice());
        booted();
      }
    } else if (what === 'power' && value === '0') await vm.stop();
    else if (what === 'reset') {
      await vm.reset(nextDevice());
      booted();
    } else if (what === 'shutdown') await vm.acpiShutdown();
    // `boot …` is already in the boot file; the next start reads it.
  }

  const poll = () => {
    const all = readFileSync(file('requests'), 'utf8');
    const fresh = all.slice(offset);
    const end = fresh.lastIndexOf('\n');
    if (end >= 0) {
      offset += end + 1;
      for (const request of fresh.slice(0, end).split('\n').filter(Boolean)) {
        ops.push(request);
        pending++;
        work = work
          .then(() => carryOut(request))
          .then(() => note(`${request}: done (VM ${vm.running() ? 'running' : 'off'}, boots ${vm.boots})`))
          .catch((err: Error) => note(`${request}: failed: ${err.message}`))
          .finally(() => {
            // Once nothing is queued, the BMC reports what the VM really does (it may have powered itself off).
            if (--pending === 0) writeState('power', vm.running() ? '1' : '0');
          });
      }
    }
    if (pending === 0 && readState('power') === '1' && !vm.running()) {
      note('the VM is off by itself');
      writeState('power', '0');
    }
  };
  const watcher = setInterval(poll, 50);

  const sim: Spawned = spawn('ipmi_sim', ['-c', file('lan.conf'), '-f', file('bmc.emu'), '-s', file('state'), '-n'], { cwd: dir });
  const address = `${host}:${port}`;
  const stop = async () => {
    clearInterval(watcher);
    await sim.stop();
    await work;
    await vm.close();
    rmSync(dir, { recursive: true, force: true });
  };
  const log = () => `ipmi_sim:\n${sim.log()}\nharness:\n${harnessLog}\nqemu:\n${vm.log()}`;

  // Up when it answers a login with the right password (bounded: 10 s).
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const probe = spawn(
        'ipmitool',
        ['-I', 'lanplus', '-C', '3', '-H', host, '-p', String(port), '-U', username, '-E', '-N', '1', '-R', '1', 'chassis', 'power', 'status'],
        { env: { ...process.env, IPMI_PASSWORD: password } },
      );
      const timer = setTimeout(() => void probe.stop('SIGKILL'), 5_000);
      const code = await probe.exited.finally(() => clearTimeout(timer));
      if (code !== 0) throw new Error(`ipmitool exited ${code}: ${probe.log().trim()}`);
      break;
    } catch (err) {
      if (sim.child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`ipmi_sim did not answer on ${address}: ${(err as Error).message}\n${log()}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  return {
    address,
    username,
    password,
    vm,
    nextBoot: () => {
      const boot = readState('boot');
      return boot === 'pxe' ? 'network' : boot === 'default' || boot === 'disk' ? 'disk' : 'unknown';
    },
    operations: () => [...ops],
    log,
    stop,
  };
}
