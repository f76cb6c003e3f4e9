/**
 * A QEMU virtual machine for end-to-end tests: BIOS (SeaBIOS) or UEFI (OVMF), with the
 * iPXE ROM of its virtio NIC or (UEFI) none, leaving PXE to OVMF itself, on a tap in a test's namespace, a raw virtio disk, firmware and console
 * on a serial log. TCG, not KVM: iPXE dies under KVM in nested environments.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Netns, Spawned } from './netns.ts';

export interface VmOptions {
  mac: string;
  disk: string;
  memoryMiB: number;
  cpus: number;
  /** Serial console (SeaBIOS, iPXE, kernel, installer) goes here. */
  serialLog: string;
  /** File holding the two bytes of SeaBIOS's serial console port (0x3f8). */
  serconPort: string;
  /** `uefi`: OVMF with this copy of its variable store (writable, one per VM). */
  uefiVars?: string;
  /**
   * false: the NIC gets no option ROM (`romfile=`), so the firmware's own PXE client does
   * DHCP and TFTP — OVMF's, as on most UEFI servers without iPXE on the NIC.
   */
  nicRom?: boolean;
}

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS.fd';

/** What the serial log shows, in boot order, to time each phase by. */
export const bootMarkers: Array<[string, RegExp]> = [
  ['SeaBIOS', /SeaBIOS \(version/g],
  ['OVMF', /BdsDxe: loading Boot/g],
  ['NIC ROM (iPXE)', /Booting from ROM/g],
  ['OVMF PXE starts', />>Start PXE over IPv4/g],
  ['OVMF PXE has an address', /Station IP address is/g],
  ['OVMF PXE loaded its file (TFTP)', /NBP file downloaded successfully/g],
  ['iPXE configuring net0', /Configuring \(net0/g],
  ['iPXE script from the agent', /Sprout: /g],
  ['kernel started', /Linux version/g],
  ['/init', /sprout-installer: kernel /g],
  ['DHCP lease', /sprout-installer: network up/g],
  ['image written', /sprout-installer: wrote \d+ bytes/g],
  ['image read back', /sprout-installer: read back/g],
  ['commissioned', /sprout-installer: commissioned/g],
  ['power off', /sprout-installer: poweroff/g],
  ['reboot', /sprout-installer: reboot/g],
  ['SeaBIOS boots the disk', /Booting from Hard Disk/g],
  ['iPXE exits to the firmware', /Could not boot image: Error 0x00000001/g],
  ['boot sector on COM1', /SPROUT-DISK-BOOTED/g],
];

export interface Vm {
  process: Spawned;
  /** Each marker's appearances in the serial log, in ms after QEMU started (sampled every 100 ms). */
  timeline(): string;
  /** The same, as data: each marker's label and ms after QEMU started. */
  events(): Array<{ ms: number; label: string }>;
  serial(): string;
  /** Waits until the serial log matches; fails with the log's tail. */
  waitForSerial(text: string | RegExp, timeoutMs: number): Promise<void>;
  /** Waits for QEMU to end by itself (the guest powered off). */
  waitForExit(timeoutMs: number): Promise<number | null>;
  stop(): Promise<void>;
}

/** The fw_cfg file telling SeaBIOS to use COM1 as its console (and so iPXE's). */
export function writeSerconPort(path: string): void {
  writeFileSync(path, Buffer.from([0xf8, 0x03]));
}

export function tail(text: string, lines = 60): string {
  return text.split('\n').slice(-lines).join('\n');
}

export function startVm(ns: Netns, o: VmOptions): Vm {
  const args = [
    '-accel',
    'tcg',
    '-machine',
    'pc',
    '-m',
    String(o.memoryMiB),
    '-smp',
    String(o.cpus),
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    `file:${o.serialLog}`,
    '-fw_cfg',
    `name=etc/sercon-port,file=${o.serconPort}`,
    '-netdev',
    `tap,id=n0,ifname=${ns.tap},script=no,downscript=no`,
    // Network first, then the disk: bootindex is what both SeaBIOS and OVMF honour.
    '-device',
    `virtio-net-pci,netdev=n0,mac=${o.mac},bootindex=1${o.nicRom === false ? ',romfile=' : ''}`,
    '-drive',
    `file=${o.disk},if=none,id=disk0,format=raw`,
    '-device',
    'virtio-blk-pci,drive=disk0,bootindex=2',
  ];
  if (o.uefiVars) {
    args.push(
      '-drive',
      `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
      '-drive',
      `if=pflash,format=raw,unit=1,file=${o.uefiVars}`,
      // OVMF's own IPv6 PXE attempt would add its own wait before iPXE's.
      '-fw_cfg',
      'name=opt/org.tianocore/IPv6Support,string=no',
    );
  }
  const process = ns.spawn('qemu-system-x86_64', args);
  const serial = () => {
    try {
      return readFileSync(o.serialLog, 'latin1').replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '');
    } catch {
      return '';
    }
  };
  const startedAt = Date.now();
  const seen: Array<{ ms: number; label: string }> = [];
  const counts = new Map<string, number>();
  const sample = () => {
    const log = serial();
    for (const [label, pattern] of bootMarkers) {
      const count = log.match(pattern)?.length ?? 0;
      for (let n = counts.get(label) ?? 0; n < count; n++) seen.push({ ms: Date.now() - startedAt, label });
      counts.set(label, count);
    }
  };
  const sampler = setInterval(sample, 100);
  void process.exited.then(() => (sample(), clearInterval(sampler)));
  return {
    process,
    serial,
    events: () => seen.map((e) => ({ ...e })),
    timeline: () =>
      seen.map((e, i) => `${(e.ms / 1000).toFixed(1).padStart(6)} s  ${e.label}${i ? ` (+${((e.ms - seen[i - 1].ms) / 1000).toFixed(1)} s)` : ''}`).join('\n'),
    async waitForSerial(text, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const log = serial();
        if (typeof text === 'string' ? log.includes(text) : text.test(log)) return;
        if (process.child.exitCode !== null || process.child.signalCode !== null)
          throw new Error(
            `QEMU ended (${process.child.exitCode ?? process.child.signalCode}) before the serial log showed ${text}; qemu: ${process.log().slice(-500)}\nserial tail:\n${tail(log)}`,
          );
        if (Date.now() > deadline) throw new Error(`the serial log did not show ${text} in ${timeoutMs} ms; serial tail:\n${tail(log)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async waitForExit(timeoutMs) {
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      const code = await Promise.race([process.exited, timer]);
      if (code === 'timeout') throw new Error(`QEMU did not power off within ${timeoutMs} ms; serial tail:\n${tail(serial())}`);
      return code;
    },
    stop: async () => {
      await process.stop('SIGTERM');
      clearInterval(sampler);
    },
  };
}
