/**
 * An operator's allocation constraints as SQL predicates over `machines`, in the order
 * they are explained when nothing matches. Hardware minimums only match machines whose
 * commissioning recorded the fact as a number: an unknown is never assumed to be enough.
 */
import { SproutError, type AllocationConstraints } from '@sprout/kernel/sdk';

export interface MachinePredicate {
  /** How the constraint reads in a reason: `with arch arm64`. */
  describe: string;
  sql: string;
  bindings: (string | number)[];
}

function hardwareAtLeast(fact: 'cpus' | 'memoryMiB'): string {
  // CASE, not AND: PostgreSQL may evaluate AND operands in any order, and the cast fails on non-numbers
  return `case when jsonb_typeof(hardware->'${fact}') = 'number' then (hardware->>'${fact}')::numeric >= ? else false end`;
}

function minimumOf(field: 'minCpus' | 'minMemoryMiB', value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    const message = `${JSON.stringify(value)} is not a non-negative number`;
    throw new SproutError('SPROUT_ERR_VALIDATION', `allocation constraint ${field}: ${message}`, { details: [{ field, message }] });
  }
  return value;
}

export function predicatesFor(constraints: AllocationConstraints): MachinePredicate[] {
  const predicates: MachinePredicate[] = [];
  const { siteId, arch, tags, minCpus, minMemoryMiB } = constraints;
  if (siteId !== undefined) predicates.push({ describe: `in site ${siteId}`, sql: 'site_id = ?', bindings: [siteId] });
  if (arch !== undefined) predicates.push({ describe: `with arch ${arch}`, sql: 'arch = ?', bindings: [arch] });
  if (tags !== undefined && tags.length > 0) {
    predicates.push({ describe: `with tags [${tags.join(', ')}]`, sql: 'tags @> ?::jsonb', bindings: [JSON.stringify(tags)] });
  }
  if (minCpus !== undefined) {
    const min = minimumOf('minCpus', minCpus);
    predicates.push({ describe: `with at least ${min} CPUs`, sql: hardwareAtLeast('cpus'), bindings: [min] });
  }
  if (minMemoryMiB !== undefined) {
    const min = minimumOf('minMemoryMiB', minMemoryMiB);
    predicates.push({ describe: `with at least ${min} MiB memory`, sql: hardwareAtLeast('memoryMiB'), bindings: [min] });
  }
  return predicates;
}
