/**
 * Hardware testing: a catalogue of tests the installer runs while commissioning, and
 * how a result is judged against the machine's expected values. Several providers may
 * be active at once: each contributes tests to the one catalogue.
 */
import { defineCapability } from './define-capability.ts';

export interface HardwareTestDefinition {
  /** Unique across providers, e.g. `cpu-inventory`, `memory-short`. */
  name: string;
  description: string;
  /** What the installer runs: a builtin routine name or a shell script. */
  run: { kind: 'builtin'; routine: string } | { kind: 'script'; script: string };
  timeoutSeconds: number;
}

export interface HardwareTestResult {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  durationMs: number;
  output: string;
  facts?: Record<string, unknown>;
}

export interface MachineExpectations {
  cpus?: number;
  memoryMiB?: number;
  disks?: number;
}

export interface HardwareTestProvider {
  catalogue(): HardwareTestDefinition[];
  /** Judge a reported result: may turn a pass into a failure when a threshold is missed. */
  judge(result: HardwareTestResult, expected: MachineExpectations): HardwareTestResult;
}

export const hwtestCapability = defineCapability<HardwareTestProvider>({
  id: 'hwtest',
  cardinality: 'many',
  description: 'Hardware tests run during commissioning',
});
