/**
 * Picks the first ready machine (by hostname) matching the constraints and locks it in
 * the caller's transaction; machines other transactions hold are skipped, so racing
 * picks never share a machine. It never changes the machine: the kernel allocates it.
 * The machines come from the kernel's read API: this plugin has no SQL on kernel tables.
 */
import type { Knex } from 'knex';
import type { AllocationConstraints, AllocationPick, KernelRead } from '@sprout/kernel/sdk';
import { predicatesFor, type MachinePredicate } from './machine-constraints.ts';

export async function pickMachine(read: KernelRead, trx: Knex.Transaction, constraints: AllocationConstraints): Promise<AllocationPick> {
  const predicates = predicatesFor(constraints);
  const narrowed = await read.machines.ready(trx, { siteId: constraints.siteId, arch: constraints.arch });
  const matching = narrowed.filter((m) => predicates.every((p) => p.matches(m)));
  const machineId = await read.machines.lockFirstReady(
    trx,
    matching.map((m) => m.id),
  );
  if (machineId) return { machineId };
  return { machineId: null, reason: await noMatchReason(read, trx, predicates) };
}

/**
 * How many ready machines pass each constraint in turn, e.g. `12 ready, 3 with arch
 * arm64, 0 of those with tags [gpu]`: the first zero names the constraint to relax.
 */
async function noMatchReason(read: KernelRead, trx: Knex.Transaction, predicates: MachinePredicate[]): Promise<string> {
  const ready = await read.machines.ready(trx);
  const counts = predicates.map((_, i) => ready.filter((m) => predicates.slice(0, i + 1).every((p) => p.matches(m))).length);
  const parts = [`${ready.length} ready`];
  for (const [i, p] of predicates.entries()) {
    parts.push(`${counts[i]}${i === 0 ? '' : ' of those'} ${p.describe}`);
    if (counts[i] === 0) break;
  }
  const matching = predicates.length === 0 ? ready.length : counts[predicates.length - 1];
  if (matching > 0) {
    // matching machines exist but every one is locked by a concurrent allocation
    return `no ready machine matches right now: ${parts.join(', ')}; all ${matching} matching are being allocated by other requests`;
  }
  return `no ready machine matches: ${parts.join(', ')}`;
}
