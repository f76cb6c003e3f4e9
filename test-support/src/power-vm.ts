/**
 * A QEMU VM whose power a simulated BMC (ipmi_sim, a Redfish simulator) works: power on
 * spawns qemu-system-x86_64 (TCG, no display) with the boot order the BMC asked for,
 * hard off ends the process, a reset is QMP `system_reset` (or a restart when the boot
 * order changes). Tests judge a power driver by this VM — is the process running, how
 * many times did it start — never by the driver's own word.
 *
 * Without `qemuArgs` the VM gets a NIC on a restricted user netdev (no traffic leaves)
 * and an empty disk. With `qemuArgs` (e.g. a tap NIC and a real disk for e2e tests) the
 * caller's devices take `{bootindex:network}` and `{bootindex:disk}` placeholders, which
 * each start fills in with the requested order, and `{start}`, the number of this start
 * (1, 2, …), e.g. for one serial log per power-on.
 */
import { copyFileSync, mkdirSync, rmSync, writeFileSync, truncateSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { spawnLogged, type Spawned } from './netns.ts';
import { OVMF_CODE, OVMF_VARS } from './qemu.ts';

export type PowerVmDevice = 'network' | 'disk';

export interface PowerVmOptions {
  name: string;
  dir: string;
  /** extra qemu args (disks, NICs: e.g. tap netdev for e2e tests); `{bootindex:network}`/`{bootindex:disk}` are filled in */
  qemuArgs?: string[];
  firmware?: 'bios' | 'uefi';
  memoryMiB?: number;
  /** How QEMU is started: default a host process; an e2e test passes its namespace's `spawn` (the tap lives there). */
  spawn?: (command: string, args: string[]) => Spawned;
}

export interface PowerVm {
  /** Power on: spawns QEMU so that `device` boots first; no-op if already running. */
  start(device: PowerVmDevice): Promise<void>;
  /** Hard off: QMP quit, SIGKILL after a grace period. */
  stop(): Promise<void>;
  /** A reset (counts as a boot): restarts QEMU when `device` changes the order, else QMP system_reset; starts a VM that is off. */
  reset(device?: PowerVmDevice): Promise<void>;
  /** The power button (ACPI): a guest OS shuts down; firmware alone ignores it. No-op when off. */
  acpiShutdown(): Promise<void>;
  running(): boolean;
  /** The running QEMU's process id (undefined when off). */
  pid(): number | undefined;
  /** The boot order of the current or last start ('disk' before the first). */
  bootDevice(): PowerVmDevice;
  /** Starts and resets so far. */
  readonly boots: number;
  /** QEMU's output so far (for failure messages). */
  log(): string;
  /** Teardown: stop, remove the VM's files. */
  close(): Promise<void>;
}

/** Sends QMP commands over the VM's socket; answers each command's `return`. */
async function qmp(socket: string, commands: Array<{ execute: string; arguments?: object }>, timeoutMs = 5_000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    const answers: unknown[] = [];
    let buffer = '';
    let greeted = false;
    const queue = [{ execute: 'qmp_capabilities' }, ...commands];
    const timer = setTimeout(() => (conn.destroy(), reject(new Error(`QMP ${socket}: no answer in ${timeoutMs} ms`))), timeoutMs);
    const done = (err?: Error) => {
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(answers.slice(1));
    };
    const next = () => {
      const command = queue.shift();
      if (!command) return done();
      conn.write(JSON.stringify(command) + '\n');
    };
    conn.on('data', (chunk) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const message = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string };
        if (message.QMP && !greeted) {
          greeted = true;
          next();
        } else if (message.error) done(new Error(`QMP: ${message.error.desc}`));
        else if ('return' in message) {
          answers.push(message.return);
          next();
        }
      }
    });
    // `quit` closes the socket before (or instead of) answering.
    conn.on('close', () => done());
    conn.on('error', (err) => done(err));
  });
}

export function powerVm(options: PowerVmOptions): PowerVm {
  const dir = join(options.dir, options.name);
  mkdirSync(dir, { recursive: true });
  const qmpSocket = join(dir, 'qmp.sock');
  const disk = join(dir, 'disk.raw');
  const uefiVars = join(dir, 'OVMF_VARS.fd');
  let proc: Spawned | undefined;
  let device: PowerVmDevice = 'disk';
  let boots = 0;
  let logs = '';
  let prepared = false;

  const alive = () => proc !== undefined && proc.child.exitCode === null && proc.child.signalCode === null;

  function prepare(): void {
    if (prepared) return;
    if (!options.qemuArgs) {
      // An empty (sparse) disk: there is nothing to boot, the VM just has to run.
      writeFileSync(disk, '');
      truncateSync(disk, 16 << 20);
    }
    if (options.firmware === 'uefi') copyFileSync(OVMF_VARS, uefiVars);
    prepared = true;
  }

  function args(first: PowerVmDevice): string[] {
    const index = { network: first === 'network' ? '1' : '2', disk: first === 'disk' ? '1' : '2' };
    const devices = options.qemuArgs ?? [
      '-netdev',
      'user,id=n0,restrict=on',
      '-device',
      'virtio-net-pci,netdev=n0,bootindex={bootindex:network}',
      '-drive',
      `file=${disk},if=none,id=disk0,format=raw`,
      '-device',
      'virtio-blk-pci,drive=disk0,bootindex={bootindex:disk}',
    ];
    const firmware =
      options.firmware === 'uefi'
        ? ['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${uefiVars}`]
        : [];
    return [
      '-name',
      options.name,
      '-accel',
      'tcg',
      '-machine',
      'pc',
      '-m',
      String(options.memoryMiB ?? 64),
      '-display',
      'none',
      '-monitor',
      'none',
      ...(devices.includes('-serial') ? [] : ['-serial', 'none']),
      '-qmp',
      `unix:${qmpSocket},server=on,wait=off`,
      ...firmware,
      ...devices.map((a) =>
        a
          .replaceAll('{bootindex:network}', index.network)
          .replaceAll('{bootindex:disk}', index.disk)
          .replaceAll('{start}', String(boots + 1)),
      ),
    ];
  }

  async function spawnQemu(first: PowerVmDevice): Promise<void> {
    prepare();
    rmSync(qmpSocket, { force: true });
    const started = (options.spawn ?? spawnLogged)('qemu-system-x86_64', args(first));
    proc = started;
    device = first;
    boots++;
    void started.exited.then(() => (logs += started.log()));
    // Powered on means QEMU runs the guest: wait until QMP says so.
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (started.child.exitCode !== null || started.child.signalCode !== null) {
        throw new Error(`qemu-system-x86_64 for ${options.name} ended (${started.child.exitCode ?? started.child.signalCode}): ${started.log().slice(-1000)}`);
      }
      try {
        const [status] = (await qmp(qmpSocket, [{ execute: 'query-status' }], 2_000)) as Array<{ status: string }>;
        if (status?.status === 'running') return;
      } catch {
        // the socket is not there yet
      }
      if (Date.now() > deadline) throw new Error(`QEMU for ${options.name} did not come up in 15 s: ${started.log().slice(-1000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function stop(): Promise<void> {
    const current = proc;
    if (!current || !alive()) return;
    await qmp(qmpSocket, [{ execute: 'quit' }], 2_000).catch(() => undefined);
    const ended = await Promise.race([current.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 3_000))]);
    if (!ended) await current.stop('SIGKILL');
  }

  return {
    async start(first) {
      if (alive()) return;
      await spawnQemu(first);
    },
    stop,
    async reset(next) {
      if (!alive()) return spawnQemu(next ?? device);
      if (next && next !== device) {
        await stop();
        return spawnQemu(next);
      }
      await qmp(qmpSocket, [{ execute: 'system_reset' }]);
      boots++;
    },
    async acpiShutdown() {
      if (alive()) await qmp(qmpSocket, [{ execute: 'system_powerdown' }]);
    },
    running: alive,
    pid: () => (alive() ? proc!.child.pid : undefined),
    bootDevice: () => device,
    get boots() {
      return boots;
    },
    log: () => logs + (alive() ? proc!.log() : ''),
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
