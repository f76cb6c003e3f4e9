/**
 * Allocation: picks a `ready` machine matching an operator's constraints and marks it
 * allocated, safely when many requests race for the same machines.
 */
import type { Knex } from 'knex';
import { defineCapability } from './define-capability.ts';

export interface AllocationConstraints {
  siteId?: string;
  minCpus?: number;
  minMemoryMiB?: number;
  arch?: 'x86_64' | 'arm64';
  tags?: string[];
}

export type AllocationPick = { machineId: string } | { machineId: null; reason: string };

export interface AllocationProvider {
  /**
   * Picks one `ready` machine matching the constraints and locks its row inside `trx`
   * (`FOR UPDATE SKIP LOCKED`), so concurrent picks never return the same machine. The
   * kernel then moves it to `allocated` in the same transaction. With nothing left, says
   * why (how many machines matched each constraint).
   */
  pickMachine(trx: Knex.Transaction, constraints: AllocationConstraints): Promise<AllocationPick>;
}

export const allocationCapability = defineCapability<AllocationProvider>({
  id: 'allocation',
  cardinality: 'one',
  description: 'Choosing a ready machine that matches constraints',
});
