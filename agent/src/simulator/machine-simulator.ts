/**
 * A lab full of machines on the wire, without root, over loopback: each powered-on
 * machine PXE-boots through the one relay socket again and again — waiting like
 * firmware after a refusal or a failed boot (TFTP busy, …; five in a row and it gives
 * up) — until its installer powers it off, it boots its local disk, or it is powered off.
 * It plays machines only; it never reaches into the agent.
 *
 * Each machine also has what a BMC sees: a power state (a machine that booted its disk
 * stays on, running its OS), a count of starts, and a next boot device its firmware
 * honours (network once, or disk: the local disk when an image was installed there, else
 * the network as a boot order would). The lab power switch (power-switch.ts, started
 * with the simulator) works them over HTTP for the `lab` power driver.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DhcpRelay } from './dhcp-relay.ts';
import { bootOnce, type BootEnd } from './machine-boot.ts';
import { playFirstBoot } from './installed-os.ts';
import type { InstallerContext } from './installer.ts';
import { MachineHttp } from './machine-http.ts';
import { PowerSwitch, type SwitchBootDevice, type SwitchState, type SwitchedMachines } from './power-switch.ts';
import { parseMac } from '@sprout/kernel/sdk';
import type { PowerOnResult, SimulatedMachine, SimulatorEndpoints, SimulatorEvent } from './simulator-types.ts';

export interface MachineSimulatorOptions {
  endpoints: SimulatorEndpoints;
  /** Between refused boots (and boots without a boot offer), in ms; default 2000. */
  retryDelayMs?: number;
  /** The lab power switch's port on 127.0.0.1; default 0 (a free port, see powerSwitchUrl). */
  powerPort?: number;
  onEvent?: (event: SimulatorEvent) => void;
  /** Told how each power-on's boot chain ended, whoever powered the machine on (powerOn or the switch). */
  onPowerOnEnd?: (mac: string, result: PowerOnResult) => void;
}

type Machine = SimulatedMachine & { mac: string; arch: 'bios' | 'uefi' };

interface PoweredOn {
  controller: AbortController;
  done: Promise<PowerOnResult>;
}

/** One machine plugged into the simulator, as its BMC would see it. */
interface Plugged {
  machine: Machine;
  power: 'on' | 'off';
  starts: number;
  /** Where the firmware boots from, boot after boot. */
  bootDevice: SwitchBootDevice;
  /** The next boot only (IPMI `bootdev pxe`, Redfish `Once`). */
  bootOnce?: 'network';
  /** What the machine keeps across boots and power-ons: its disk's contents, a crash that happened. */
  memory: InstallerContext['memory'];
  /** The boot chain running now (none while off, or while its OS runs after a local boot). */
  run?: PoweredOn;
}

/** Failed firmware boots in a row after which the machine gives up (outcome `error`). */
const maxFailedBoots = 5;

class PoweredOff extends Error {
  constructor() {
    super('powered off');
    this.name = 'PoweredOff';
  }
}

/** The MAC in lower-case colon form; throws on anything that is not a MAC. */
function normalMac(mac: string): string {
  const normalised = parseMac(mac);
  if (!normalised) throw new TypeError(`${JSON.stringify(mac)} is not a MAC address`);
  return normalised;
}

export class MachineSimulator {
  private readonly relay: DhcpRelay;
  private readonly http = new MachineHttp();
  private readonly machines = new Map<string, Plugged>();
  private readonly powerSwitch = new PowerSwitch(this.switched());
  private started = false;

  constructor(private readonly options: MachineSimulatorOptions) {
    this.relay = new DhcpRelay(options.endpoints.relay, options.endpoints.dhcp);
  }

  /** Binds the relay socket and starts the lab power switch. */
  async start(): Promise<void> {
    await this.relay.start();
    try {
      await this.powerSwitch.start(this.options.powerPort ?? 0);
    } catch (err) {
      await this.relay.stop();
      throw err;
    }
    this.started = true;
  }

  /** The lab power switch (`bmc.address` of a machine with `bmc.type: lab`), once started. */
  get powerSwitchUrl(): string {
    const url = this.powerSwitch.url;
    if (!url) throw new Error('start() the simulator before asking for its power switch');
    return url;
  }

  /**
   * Plugs a machine in, powered off, for the power switch to work (a machine plugged in
   * before keeps its power, disk and boot device; its description is updated).
   */
  plugIn(machine: SimulatedMachine): string {
    const mac = normalMac(machine.mac);
    const described: Machine = { ...machine, mac, arch: machine.arch ?? 'bios' };
    const known = this.machines.get(mac);
    if (known) known.machine = described;
    else this.machines.set(mac, { machine: described, power: 'off', starts: 0, bootDevice: 'network', memory: {} });
    return mac;
  }

  /**
   * Powers the machine on (plugging it in first). It PXE-boots again and again (waiting
   * retryDelayMs after a refusal/no boot offer, like firmware retrying) until its
   * installer powers it off (after commissioning / tests / a reported failure), it boots
   * its local disk (after a deploy), or powerOff(mac) is called.
   */
  powerOn(machine: SimulatedMachine): Promise<PowerOnResult> {
    if (!this.started) return Promise.reject(new Error('start() the simulator before powering machines on'));
    let mac: string;
    try {
      mac = this.plugIn(machine);
    } catch (err) {
      return Promise.reject(err);
    }
    const plugged = this.machines.get(mac)!;
    if (plugged.run) return Promise.reject(new Error(`machine ${mac} is already powered on`));
    return this.startRun(plugged).done;
  }

  /** Cuts the power: whatever the machine was doing stops, and its powerOn() resolves `powered-off`. */
  powerOff(mac: string): void {
    const plugged = this.machines.get(parseMac(mac) ?? mac);
    if (!plugged) return;
    plugged.run?.controller.abort(new PoweredOff());
    if (!plugged.run && plugged.power === 'on') this.emit(plugged.machine.mac, 'power-off', 'powered off from outside (powerOff)');
    plugged.power = 'off';
  }

  /** The machine as its BMC sees it, or undefined when it was never plugged in. */
  machineState(mac: string): SwitchState | undefined {
    const plugged = this.machines.get(parseMac(mac) ?? mac);
    return plugged && stateOf(plugged);
  }

  /** Powers everything off and closes the sockets. */
  async stop(): Promise<void> {
    const running = [...this.machines.values()].flatMap((m) => (m.run ? [m.run] : []));
    for (const m of running) m.controller.abort(new PoweredOff());
    await Promise.allSettled(running.map((m) => m.done));
    for (const m of this.machines.values()) m.power = 'off';
    this.started = false;
    await this.powerSwitch.stop();
    await this.relay.stop();
    this.http.close();
  }

  /** The simulator as the power switch works it. */
  private switched(): SwitchedMachines {
    return {
      list: () => [...this.machines.values()].map(stateOf),
      get: (mac) => this.machineState(mac),
      power: async (mac, action, soft) => {
        const plugged = this.machines.get(mac)!;
        const how = soft ? 'soft off (the OS shuts down)' : action;
        if (action === 'off') {
          if (plugged.power === 'on') {
            this.emit(mac, 'power', `${how} (lab power switch)`);
            if (plugged.run) await this.stopRun(plugged);
            else this.emit(mac, 'power-off', soft ? 'its OS shut down (soft off)' : 'powered off (lab power switch)');
          }
          plugged.power = 'off';
        } else if (action === 'on') {
          if (plugged.power === 'off') {
            this.emit(mac, 'power', `power on (lab power switch), boots from ${nextBoot(plugged)}`);
            this.startRun(plugged);
          }
        } else {
          this.emit(mac, 'power', `power cycle (lab power switch), boots from ${nextBoot(plugged)}`);
          await this.stopRun(plugged);
          this.startRun(plugged);
        }
        return stateOf(plugged);
      },
      setNextBoot: (mac, device) => {
        const plugged = this.machines.get(mac)!;
        if (device === 'network') plugged.bootOnce = 'network';
        else [plugged.bootDevice, plugged.bootOnce] = ['disk', undefined];
        this.emit(mac, 'power', `next boot device ${device === 'network' ? 'network (once)' : 'disk'} (lab power switch)`);
        return stateOf(plugged);
      },
    };
  }

  private emit(mac: string, kind: SimulatorEvent['kind'], detail: string): void {
    this.options.onEvent?.({ mac, at: Date.now(), kind, detail });
  }

  private startRun(plugged: Plugged): PoweredOn {
    if (!this.started) throw new Error('the simulator is stopped');
    const controller = new AbortController();
    plugged.power = 'on';
    plugged.starts += 1;
    const done = this.run(plugged, controller.signal).then((result) => {
      if (plugged.run?.done === done) plugged.run = undefined;
      // A machine that booted its disk runs its OS; one whose firmware gave up sits at its prompt: both stay on.
      if (result.outcome === 'powered-off') plugged.power = 'off';
      this.options.onPowerOnEnd?.(plugged.machine.mac, result);
      return result;
    });
    plugged.run = { controller, done };
    return plugged.run;
  }

  private async stopRun(plugged: Plugged): Promise<void> {
    const run = plugged.run;
    if (!run) return;
    run.controller.abort(new PoweredOff());
    await run.done;
  }

  /** The device this boot uses: a one-time network boot is used up by it. */
  private bootDevice(plugged: Plugged): SwitchBootDevice {
    const device = plugged.bootOnce ?? plugged.bootDevice;
    plugged.bootOnce = undefined;
    return device;
  }

  private async run(plugged: Plugged, signal: AbortSignal): Promise<PowerOnResult> {
    const machine = plugged.machine;
    const emit = (kind: SimulatorEvent['kind'], detail: string) => this.emit(machine.mac, kind, detail);
    const poweredOff = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    let boots = 0;
    let failedInARow = 0;
    let address: string | undefined;
    const result = (outcome: PowerOnResult['outcome'], detail: string): PowerOnResult => ({ outcome, boots, detail, ...(address ? { address } : {}) });
    try {
      for (;;) {
        boots += 1;
        const end = await this.firmwareBoot(plugged, { signal, emit, poweredOff, leased: (a: string) => (address = a) });
        failedInARow = end.end === 'error' ? failedInARow + 1 : 0;
        switch (end.end) {
          case 'refused':
            await sleep(this.options.retryDelayMs ?? 2000, undefined, { signal });
            continue;
          case 'reboot':
            continue;
          case 'local-boot':
            // The installed OS's first boot: cloud-init from the seed, then phone_home.
            await playFirstBoot({
              machine,
              http: this.http,
              call: { signal, ...(address?.startsWith('127.') ? { localAddress: address } : {}) },
              memory: plugged.memory,
              emit,
            });
            return result('local-boot', end.detail);
          case 'power-off':
            emit('power-off', end.detail);
            return result('powered-off', end.detail);
          case 'error':
            if (!end.retry || failedInARow >= maxFailedBoots)
              return result('error', failedInARow > 1 ? `${end.detail} (${failedInARow} failed boots in a row)` : end.detail);
            await sleep(this.options.retryDelayMs ?? 2000, undefined, { signal });
            continue;
        }
      }
    } catch (err) {
      if (!signal.aborted) {
        emit('error', (err as Error).message);
        return result('error', (err as Error).message);
      }
      emit('power-off', 'powered off from outside (powerOff)');
      return result('powered-off', 'powered off from outside (powerOff)');
    }
  }

  /** One boot as the firmware does it: the disk when it is the boot device and holds a system, else PXE. */
  private async firmwareBoot(
    plugged: Plugged,
    ctx: { signal: AbortSignal; emit(kind: SimulatorEvent['kind'], detail: string): void; poweredOff: Promise<void>; leased(address: string): void },
  ): Promise<BootEnd> {
    if (this.bootDevice(plugged) === 'disk') {
      if (plugged.memory.installed) {
        ctx.emit('local-boot', 'boots from its local disk (boot device: disk)');
        return { end: 'local-boot', detail: 'boot device disk' };
      }
      ctx.emit('power', 'boot device disk, but no operating system on it: the firmware tries the network');
    }
    return bootOnce({ machine: plugged.machine, endpoints: this.options.endpoints, relay: this.relay, http: this.http, memory: plugged.memory, ...ctx });
  }
}

function nextBoot(plugged: Plugged): SwitchBootDevice {
  return plugged.bootOnce ?? plugged.bootDevice;
}

function stateOf(plugged: Plugged): SwitchState {
  return { mac: plugged.machine.mac, state: plugged.power, nextBoot: nextBoot(plugged), starts: plugged.starts };
}
