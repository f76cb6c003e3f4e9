/**
 * A lab full of machines on the wire, without root, over loopback: each powered-on
 * machine PXE-boots through the one relay socket again and again — waiting like
 * firmware after a refusal or a failed boot (TFTP busy, …; five in a row and it gives
 * up) — until its installer powers it off, it boots its local disk, or it is powered off. It plays machines only; it never reaches into the agent.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DhcpRelay } from './dhcp-relay.ts';
import { bootOnce } from './machine-boot.ts';
import { MachineHttp } from './machine-http.ts';
import { macBytes } from './pxe-dhcp-client.ts';
import type { PowerOnResult, SimulatedMachine, SimulatorEndpoints, SimulatorEvent } from './simulator-types.ts';

export interface MachineSimulatorOptions {
  endpoints: SimulatorEndpoints;
  /** Between refused boots (and boots without a boot offer), in ms; default 2000. */
  retryDelayMs?: number;
  onEvent?: (event: SimulatorEvent) => void;
}

interface PoweredOn {
  controller: AbortController;
  done: Promise<PowerOnResult>;
}

/** Failed firmware boots in a row after which the machine gives up (outcome `error`). */
const maxFailedBoots = 5;

class PoweredOff extends Error {
  constructor() {
    super('powered off');
    this.name = 'PoweredOff';
  }
}

export class MachineSimulator {
  private readonly relay: DhcpRelay;
  private readonly http = new MachineHttp();
  private readonly machines = new Map<string, PoweredOn>();
  private started = false;

  constructor(private readonly options: MachineSimulatorOptions) {
    this.relay = new DhcpRelay(options.endpoints.relay, options.endpoints.dhcp);
  }

  /** Binds the relay socket. */
  async start(): Promise<void> {
    await this.relay.start();
    this.started = true;
  }

  /**
   * Powers the machine on. It PXE-boots again and again (waiting retryDelayMs after a
   * refusal/no boot offer, like firmware retrying) until its installer powers it off
   * (after commissioning / tests / a reported failure), it boots its local disk (after a
   * deploy), or powerOff(mac) is called.
   */
  powerOn(machine: SimulatedMachine): Promise<PowerOnResult> {
    if (!this.started) return Promise.reject(new Error('start() the simulator before powering machines on'));
    let mac: string;
    try {
      mac = [...macBytes(machine.mac)].map((b) => b.toString(16).padStart(2, '0')).join(':');
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.machines.has(mac)) return Promise.reject(new Error(`machine ${mac} is already powered on`));
    const controller = new AbortController();
    const done = this.run({ ...machine, mac, arch: machine.arch ?? 'bios' }, controller.signal);
    this.machines.set(mac, { controller, done });
    void done.finally(() => this.machines.delete(mac));
    return done;
  }

  /** Cuts the power: whatever the machine was doing stops, and its powerOn() resolves `powered-off`. */
  powerOff(mac: string): void {
    const key = mac.toLowerCase().replace(/-/g, ':');
    this.machines.get(key)?.controller.abort(new PoweredOff());
  }

  /** Powers everything off and closes the sockets. */
  async stop(): Promise<void> {
    const running = [...this.machines.values()];
    for (const m of running) m.controller.abort(new PoweredOff());
    await Promise.allSettled(running.map((m) => m.done));
    this.started = false;
    await this.relay.stop();
    this.http.close();
  }

  private async run(machine: SimulatedMachine & { mac: string; arch: 'bios' | 'uefi' }, signal: AbortSignal): Promise<PowerOnResult> {
    const emit = (kind: SimulatorEvent['kind'], detail: string) => this.options.onEvent?.({ mac: machine.mac, at: Date.now(), kind, detail });
    const poweredOff = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    const memory = {};
    let boots = 0;
    let failedInARow = 0;
    let address: string | undefined;
    const result = (outcome: PowerOnResult['outcome'], detail: string): PowerOnResult => ({ outcome, boots, detail, ...(address ? { address } : {}) });
    try {
      for (;;) {
        boots += 1;
        const end = await bootOnce({ machine, endpoints: this.options.endpoints, relay: this.relay, http: this.http, signal, emit, memory, poweredOff, leased: (a) => (address = a) });
        failedInARow = end.end === 'error' ? failedInARow + 1 : 0;
        switch (end.end) {
          case 'refused':
            await sleep(this.options.retryDelayMs ?? 2000, undefined, { signal });
            continue;
          case 'reboot':
            continue;
          case 'local-boot':
            return result('local-boot', end.detail);
          case 'power-off':
            emit('power-off', end.detail);
            return result('powered-off', end.detail);
          case 'error':
            if (!end.retry || failedInARow >= maxFailedBoots) return result('error', failedInARow > 1 ? `${end.detail} (${failedInARow} failed boots in a row)` : end.detail);
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
}

