/**
 * Picks the first ready machine (by hostname) matching the constraints and locks it in
 * the caller's transaction; rows other transactions hold are skipped, so racing picks
 * never share a machine. It never changes the machine: the kernel allocates it.
 */
import type { Knex } from 'knex';
import type { AllocationConstraints, AllocationPick } from '@sprout/kernel/sdk';
import { predicatesFor, type MachinePredicate } from './machine-constraints.ts';

export async function pickMachine(trx: Knex.Transaction, constraints: AllocationConstraints): Promise<AllocationPick> {
  const predicates = predicatesFor(constraints);
  const query = trx('machines').where({ status: 'ready' });
  for (const p of predicates) query.whereRaw(p.sql, p.bindings);
  const picked: { id: string } | undefined = await query.orderBy(['hostname', 'id']).forUpdate().skipLocked().first('id');
  if (picked) return { machineId: picked.id };
  return { machineId: null, reason: await noMatchReason(trx, predicates) };
}

/**
 * How many ready machines pass each constraint in turn, e.g. `12 ready, 3 with arch
 * arm64, 0 of those with tags [gpu]`: the first zero names the constraint to relax.
 */
async function noMatchReason(trx: Knex.Transaction, predicates: MachinePredicate[]): Promise<string> {
  const columns = ['count(*) as ready'];
  const bindings: (string | number)[] = [];
  predicates.forEach((_, i) => {
    const upTo = predicates.slice(0, i + 1);
    columns.push(`count(*) filter (where ${upTo.map((p) => `(${p.sql})`).join(' and ')}) as matched_${i}`);
    bindings.push(...upTo.flatMap((p) => p.bindings));
  });
  const { rows } = await trx.raw(`select ${columns.join(', ')} from machines where status = 'ready'`, bindings);
  const counts: Record<string, number> = Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, Number(v)]));
  const parts = [`${counts.ready} ready`];
  for (const [i, p] of predicates.entries()) {
    const matched = counts[`matched_${i}`];
    parts.push(`${matched}${i === 0 ? '' : ' of those'} ${p.describe}`);
    if (matched === 0) break;
  }
  const matching = predicates.length === 0 ? counts.ready : counts[`matched_${predicates.length - 1}`];
  if (matching > 0) {
    // matching machines exist but every one is locked by a concurrent allocation
    return `no ready machine matches right now: ${parts.join(', ')}; all ${matching} matching are being allocated by other requests`;
  }
  return `no ready machine matches: ${parts.join(', ')}`;
}
