/**
 * An operator's allocation constraints as tests over ready machines, in the order they
 * are explained when nothing matches. Hardware minimums only match machines whose
 * commissioning recorded the fact as a number: an unknown is never assumed to be enough.
 */
import { SproutError, type AllocationConstraints, type ReadyMachine } from '@sprout/kernel/sdk';

export interface MachinePredicate {
  /** How the constraint reads in a reason: `with arch arm64`. */
  describe: string;
  matches(machine: ReadyMachine): boolean;
}

function hardwareAtLeast(fact: 'cpus' | 'memoryMiB', min: number): (machine: ReadyMachine) => boolean {
  return (machine) => {
    const value = machine.hardware[fact];
    return typeof value === 'number' && value >= min;
  };
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
  if (siteId !== undefined) predicates.push({ describe: `in site ${siteId}`, matches: (m) => m.siteId === siteId });
  if (arch !== undefined) predicates.push({ describe: `with arch ${arch}`, matches: (m) => m.arch === arch });
  if (tags !== undefined && tags.length > 0) {
    predicates.push({ describe: `with tags [${tags.join(', ')}]`, matches: (m) => tags.every((tag) => m.tags.includes(tag)) });
  }
  if (minCpus !== undefined) {
    const min = minimumOf('minCpus', minCpus);
    predicates.push({ describe: `with at least ${min} CPUs`, matches: hardwareAtLeast('cpus', min) });
  }
  if (minMemoryMiB !== undefined) {
    const min = minimumOf('minMemoryMiB', minMemoryMiB);
    predicates.push({ describe: `with at least ${min} MiB memory`, matches: hardwareAtLeast('memoryMiB', min) });
  }
  return predicates;
}
