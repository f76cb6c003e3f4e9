/**
 * Allocation: picks a `ready` machine matching an operator's constraints and marks it
 * allocated, safely when many requests race for the same machines.
 */
import { defineCapability } from './define-capability.ts';

export interface AllocationConstraints {
  siteId?: string;
  minCpus?: number;
  minMemoryMiB?: number;
  arch?: 'x86_64' | 'arm64';
  tags?: string[];
}

export type AllocationOutcome =
  | { allocated: true; machineId: string }
  | { allocated: false; reason: string };

export interface AllocationProvider {
  allocateMachine(constraints: AllocationConstraints, owner: string): Promise<AllocationOutcome>;
}

export const allocationCapability = defineCapability<AllocationProvider>({
  id: 'allocation',
  cardinality: 'one',
  description: 'Choosing a ready machine that matches constraints',
});
