import * as t from 'typanion';
import { SproutCommand, Command, Option } from '@sprout/kernel/cli';
import type { PowerOnResult, SimulatedMachine, SimulatorEvent } from '@sprout/agent/simulator';

/** A bad flag value: printed as one line (SproutCommand explains errors with a code), not as a stack. */
class FlagError extends Error {
  readonly code = 'SPROUT_ERR_VALIDATION';
  explain(): string {
    return this.message;
  }
}

const failures = ['hwtest-fails', 'image-checksum-mismatch', 'no-callback', 'crash-mid-install', 'os-silent'] as const;

export class LabSimulateCommand extends SproutCommand {
  static paths = [['lab', 'simulate']];
  static usage = Command.Usage({
    category: 'Lab',
    description: 'Play machines that PXE-boot from a running agent, through a DHCP relay on loopback',
    details:
      'Each machine boots as PXE firmware and then iPXE would — DHCP through the relay (giaddr), the boot file over TFTP, the HTTP script, the installer (hardware tests, callbacks, image) — retrying after a refusal until its installer powers it off or it boots its local disk. ' +
      "The relay address must lie in the site's PXE network (on Linux any 127.x.y.z works) and the agent's dhcp service needs `relayPort` set to the relay's port. " +
      'Prints every step of every machine; exits 0 when every machine ended as expected (with --fail no-callback: still silent when --timeout powers it off). ' +
      "With --power-port the machines start powered off behind the lab power switch (http://127.0.0.1:PORT, the lab's BMC): machines created with `--bmc-type lab --bmc-address http://127.0.0.1:PORT` are then powered by their workflows (check-bmc, power-on, boot-disk, power-off), as `sprout lab status` shows; the simulator runs until --timeout or Ctrl-C and exits 0 unless a machine's firmware gave up.",
    examples: [
      ['Two machines', 'sprout lab simulate --dhcp 127.0.0.1:6767 --relay 127.77.0.1:6768 --tftp-port 6969 --mac 52:54:00:aa:00:01 --mac 52:54:00:aa:00:02'],
      [
        'A hundred, as JSON lines',
        'sprout lab simulate --dhcp 127.0.0.1:6767 --relay 127.77.0.1:6768 --tftp-port 6969 --count 100 --mac-prefix 52:54:00:aa --json',
      ],
      [
        'Machines the workflows power (lab power switch on port 7481)',
        'sprout lab simulate --dhcp 127.0.0.1:6767 --relay 127.77.0.1:6768 --tftp-port 6969 --power-port 7481 --mac 52:54:00:aa:00:01',
      ],
      [
        'A machine whose disk test fails',
        'sprout lab simulate --dhcp 127.0.0.1:6767 --relay 127.77.0.1:6768 --tftp-port 6969 --mac 52:54:00:aa:00:01 --fail hwtest-fails --fail-test disk-presence',
      ],
    ],
  });

  dhcp = Option.String('--dhcp', { required: true, description: "HOST:PORT of the agent's DHCP server" });
  relay = Option.String('--relay', { required: true, description: 'ADDR:PORT the simulated relay binds (ADDR goes in giaddr)' });
  tftpPort = Option.String('--tftp-port', {
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 65535)]),
    description: 'TFTP port at the next-server the DHCP answer names (default 69)',
  });
  macs = Option.Array('--mac', [], { description: 'A machine to play; repeatable' });
  count = Option.String('--count', {
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 100_000)]),
    description: 'Play this many machines, MACs numbered after --mac-prefix',
  });
  macPrefix = Option.String('--mac-prefix', '52:54:00:aa', { description: 'First bytes of the numbered MACs (with --count)' });
  arch = Option.String('--arch', 'bios', { validator: t.isEnum(['bios', 'uefi']), description: 'Firmware of every machine: bios or uefi' });
  failure = Option.String('--fail', { validator: t.isEnum(failures), description: `Inject a failure into every machine: ${failures.join(', ')}` });
  failTest = Option.String('--fail-test', { description: 'The hardware test that fails with --fail hwtest-fails (default: the first one given)' });
  retryDelay = Option.String('--retry-delay', '2000', {
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(0, 600_000)]),
    description: 'ms between refused boots',
  });
  powerPort = Option.String('--power-port', {
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 65535)]),
    description: 'Serve the lab power switch on 127.0.0.1:PORT and leave the machines off for their workflows to power (bmc type lab)',
  });
  timeout = Option.String('--timeout', '600', {
    validator: t.cascade(t.isNumber(), [t.isInInclusiveRange(1, 86_400)]),
    description: 'Seconds after which every machine still on is powered off',
  });

  async run() {
    const dhcp = hostPort('--dhcp', this.dhcp);
    const relay = hostPort('--relay', this.relay);
    const machines: SimulatedMachine[] = [...this.macs, ...numberedMacs(this.macPrefix, this.count ?? 0)].map((mac) => ({
      mac,
      arch: this.arch as 'bios' | 'uefi',
      ...(this.failure ? { fail: this.failure } : {}),
      ...(this.failTest ? { failTest: this.failTest } : {}),
    }));
    if (machines.length === 0) throw new FlagError('give the machines to play: --mac (repeatable) or --count N');
    const { MachineSimulator } = await import('@sprout/agent/simulator');
    const started = Date.now();
    const out = (line: string) => this.context.stdout.write(`${line}\n`);
    const onEvent = (e: SimulatorEvent) =>
      out(this.json ? JSON.stringify(e) : `${((e.at - started) / 1000).toFixed(3).padStart(8)}s  ${e.mac}  ${e.kind.padEnd(10)} ${e.detail}`);
    const ends = new Map<string, PowerOnResult['outcome']>();
    const simulator = new MachineSimulator({
      endpoints: {
        dhcp: { host: dhcp.host, port: dhcp.port },
        relay: { address: relay.host, port: relay.port },
        ...(this.tftpPort ? { tftp: { port: this.tftpPort } } : {}),
      },
      retryDelayMs: this.retryDelay,
      onEvent,
      ...(this.powerPort ? { powerPort: this.powerPort, onPowerOnEnd: (mac: string, result: PowerOnResult) => ends.set(mac, result.outcome) } : {}),
    });
    await simulator.start().catch((err: Error) => {
      throw new FlagError(`${/power switch/.test(err.message) ? `--power-port ${this.powerPort}` : `--relay ${this.relay}`}: ${err.message}`);
    });
    if (this.powerPort) return this.switched(simulator, machines, ends, out);
    const timedOut = new Set<string>();
    const timer = setTimeout(() => {
      for (const m of machines) {
        timedOut.add(m.mac.toLowerCase());
        simulator.powerOff(m.mac);
      }
    }, this.timeout * 1000);
    const stop = () => void simulator.stop();
    process.once('SIGINT', stop);
    let results: PowerOnResult[];
    try {
      results = await Promise.all(machines.map((m) => simulator.powerOn(m)));
    } finally {
      clearTimeout(timer);
      process.off('SIGINT', stop);
      await simulator.stop();
    }
    let unexpected = 0;
    results.forEach((r, i) => {
      const mac = machines[i]!.mac;
      const expected = r.outcome !== 'error' && (!timedOut.has(mac.toLowerCase()) || this.failure === 'no-callback');
      if (!expected) unexpected++;
      if (this.json) out(JSON.stringify({ mac, ...r, expected }));
      else
        out(
          `${mac}: ${r.outcome} after ${r.boots} boot(s)${r.address ? ` at ${r.address}` : ''}${r.detail ? ` — ${r.detail}` : ''}${expected ? '' : timedOut.has(mac.toLowerCase()) ? ' (UNEXPECTED: still on at --timeout)' : ' (UNEXPECTED)'}`,
        );
    });
    if (!this.json) out(`${results.length - unexpected} of ${results.length} machine(s) ended as expected in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return unexpected === 0 ? 0 : 1;
  }

  /**
   * The machines wait, off, behind the power switch for their workflows to power them;
   * until --timeout or Ctrl-C. Each machine's state at the switch ends the output.
   */
  private async switched(
    simulator: import('@sprout/agent/simulator').MachineSimulator,
    machines: SimulatedMachine[],
    ends: Map<string, PowerOnResult['outcome']>,
    out: (line: string) => void,
  ): Promise<number> {
    for (const m of machines) simulator.plugIn(m);
    if (!this.json)
      out(
        `lab power switch ${simulator.powerSwitchUrl}: ${machines.length} machine(s) plugged in, off; their workflows power them (bmc type lab, address ${simulator.powerSwitchUrl})`,
      );
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.timeout * 1000);
      const stop = () => (clearTimeout(timer), resolve());
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    const states = machines.map((m) => simulator.machineState(m.mac)!);
    await simulator.stop();
    let gaveUp = 0;
    for (const state of states) {
      const last = ends.get(state.mac);
      if (last === 'error') gaveUp++;
      if (this.json) out(JSON.stringify({ ...state, lastBoot: last ?? null, expected: last !== 'error' }));
      else
        out(
          `${state.mac}: power ${state.state}, next boot ${state.nextBoot}, ${state.starts} start(s)${last ? `, last boot ended ${last}` : ''}${last === 'error' ? ' (UNEXPECTED: its firmware gave up)' : ''}`,
        );
    }
    return gaveUp === 0 ? 0 : 1;
  }
}

function hostPort(flag: string, value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  const port = Number(value.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new FlagError(`${flag} must be HOST:PORT, e.g. 127.0.0.1:6767 (got ${value})`);
  return { host: value.slice(0, at), port };
}

/** `prefix` then `n` in the remaining bytes: 52:54:00:aa + 1 → 52:54:00:aa:00:01. */
function numberedMacs(prefix: string, count: number): string[] {
  const bytes = prefix.split(':');
  if (bytes.length < 1 || bytes.length > 5 || bytes.some((b) => !/^[0-9a-fA-F]{2}$/.test(b)))
    throw new FlagError(`--mac-prefix must be one to five hex bytes, e.g. 52:54:00:aa (got ${prefix})`);
  const free = 6 - bytes.length;
  if (count >= 256 ** free) throw new FlagError(`--mac-prefix ${prefix} leaves room for ${256 ** free - 1} machines, not ${count}`);
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    const tail = Array.from({ length: free }, (_, k) => Math.floor(n / 256 ** (free - 1 - k)) % 256);
    return [...bytes, ...tail.map((b) => b.toString(16).padStart(2, '0'))].join(':').toLowerCase();
  });
}
