/**
 * The builtin hardware tests. The installer environment runs each routine and reports
 * facts; `judge` holds them against the machine's expected values, so a machine with
 * less CPU, memory or disks than promised fails commissioning with the numbers.
 */
import type { HardwareTestDefinition, HardwareTestResult, MachineExpectations } from '@sprout/kernel/sdk';

export const catalogue: HardwareTestDefinition[] = [
  { name: 'cpu-inventory', description: 'Counts logical CPUs (facts.cpus)', run: { kind: 'builtin', routine: 'cpu-inventory' }, timeoutSeconds: 30 },
  { name: 'memory-size', description: 'Reads total memory (facts.memoryMiB)', run: { kind: 'builtin', routine: 'memory-size' }, timeoutSeconds: 30 },
  {
    name: 'memory-short',
    description: 'Writes and verifies a pattern over a slice of free memory',
    run: { kind: 'builtin', routine: 'memory-short' },
    timeoutSeconds: 120,
  },
  {
    name: 'disk-presence',
    description: 'Lists block devices (facts.disks, facts.diskBytes)',
    run: { kind: 'builtin', routine: 'disk-presence' },
    timeoutSeconds: 30,
  },
  { name: 'disk-read', description: 'Reads the start of every disk', run: { kind: 'builtin', routine: 'disk-read' }, timeoutSeconds: 120 },
  { name: 'smart', description: 'SMART health where the disk supports it (skipped otherwise)', run: { kind: 'builtin', routine: 'smart' }, timeoutSeconds: 60 },
  { name: 'nic-link', description: 'Link state of every network interface', run: { kind: 'builtin', routine: 'nic-link' }, timeoutSeconds: 30 },
];

/** Memory reported by firmware is a little below the DIMMs' size; allow 5 %. */
const MEMORY_TOLERANCE = 0.95;

export function judge(result: HardwareTestResult, expected: MachineExpectations): HardwareTestResult {
  if (result.status !== 'passed') return result;
  const facts = result.facts ?? {};
  const shortfall = (what: string, got: unknown, want: number) => ({
    ...result,
    status: 'failed' as const,
    output: `${result.output}\nexpected ${what} >= ${want}, found ${got ?? 'nothing'}`.trim(),
  });
  if (result.name === 'cpu-inventory' && expected.cpus !== undefined && !(Number(facts.cpus) >= expected.cpus)) {
    return shortfall('cpus', facts.cpus, expected.cpus);
  }
  if (result.name === 'memory-size' && expected.memoryMiB !== undefined && !(Number(facts.memoryMiB) >= expected.memoryMiB * MEMORY_TOLERANCE)) {
    return shortfall('memoryMiB', facts.memoryMiB, Math.floor(expected.memoryMiB * MEMORY_TOLERANCE));
  }
  if (result.name === 'disk-presence' && expected.disks !== undefined && !(Number(facts.disks) >= expected.disks)) {
    return shortfall('disks', facts.disks, expected.disks);
  }
  return result;
}
