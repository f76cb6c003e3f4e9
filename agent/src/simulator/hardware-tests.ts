/**
 * What a simulated machine's hardware tests report: the builtin catalogue's facts taken
 * from the SimulatedMachine (cpu-inventory → cpus, memory-size → memoryMiB,
 * disk-presence → disks and diskBytes), the real installer's other builtin tests passing
 * without facts, and the output of a test made to fail. A test the real installer does
 * not know is `skipped` as there; a plugin's script test is `skipped` too: the simulator
 * never runs a plugin's script on the agent's host, so it has nothing to judge it by.
 */
import type { SimulatedMachine } from './simulator-types.ts';

export interface MachineFacts {
  cpus: number;
  memoryMiB: number;
  disks: number;
  diskBytes: number;
}

export interface HardwareTestReport {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  durationMs: number;
  output: string;
  facts?: Partial<MachineFacts>;
}

export function factsOf(machine: SimulatedMachine): MachineFacts {
  return { cpus: machine.cpus ?? 4, memoryMiB: machine.memoryMiB ?? 8192, disks: machine.disks ?? 1, diskBytes: machine.diskBytes ?? 64 * 1024 ** 3 };
}

const faults: Record<string, string> = {
  'cpu-inventory': 'CPU 1 did not come online (machine check exception during bring-up)',
  'memory-size': 'DIMM A1 reports uncorrectable ECC errors and was disabled',
  'memory-short': 'pattern 0x55 read back as 0x54 at 0x3f2a1000 (bad memory cell)',
  'disk-presence': 'no block devices found: the disk controller did not answer',
  'disk-read': 'I/O error reading sector 0 of /dev/sda',
  smart: 'SMART overall-health self-assessment: FAILED (reallocated sectors 4012)',
  'nic-link': 'eno1: no link (cable or switch port down)',
};

/** How the metadata defines a test: a script, or a builtin routine. */
export interface HardwareTestRun {
  kind: string;
}

export function runHardwareTest(name: string, machine: SimulatedMachine, failing: boolean, run?: HardwareTestRun): HardwareTestReport {
  const facts = factsOf(machine);
  const durationMs = 5 + (name.length % 7) * 3;
  if (failing) return { name, status: 'failed', durationMs, output: `${faults[name] ?? 'simulated hardware fault'} (injected failure hwtest-fails)` };
  if (run?.kind === 'script') return { name, status: 'skipped', durationMs: 0, output: `${name} is a script test; the simulator runs no scripts` };
  if (!(name in faults)) return { name, status: 'skipped', durationMs: 0, output: `${name} is unknown to this installer` };
  switch (name) {
    case 'cpu-inventory':
      return { name, status: 'passed', durationMs, output: `${facts.cpus} logical CPUs`, facts: { cpus: facts.cpus } };
    case 'memory-size':
      return { name, status: 'passed', durationMs, output: `${facts.memoryMiB} MiB`, facts: { memoryMiB: facts.memoryMiB } };
    case 'disk-presence':
      return {
        name,
        status: 'passed',
        durationMs,
        output: `${facts.disks} disk(s), ${facts.diskBytes} bytes`,
        facts: { disks: facts.disks, diskBytes: facts.diskBytes },
      };
    default:
      return { name, status: 'passed', durationMs, output: `${name}: ok` };
  }
}
