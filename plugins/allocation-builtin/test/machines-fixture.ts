/**
 * Kernel-owned rows the allocation tests pick from: sites and machines inserted
 * directly, ready with 8 CPUs and 16 GiB unless a test says otherwise.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

export async function insertSite(db: Knex): Promise<string> {
  const id = randomUUID();
  await db('sites').insert({ id, name: `site-${id.slice(0, 8)}` });
  return id;
}

export interface MachineSpec {
  hostname: string;
  arch?: 'x86_64' | 'arm64';
  status?: string;
  tags?: string[];
  hardware?: Record<string, unknown>;
}

export async function insertMachine(db: Knex, siteId: string, spec: MachineSpec): Promise<string> {
  const id = randomUUID();
  await db('machines').insert({
    id,
    site_id: siteId,
    hostname: spec.hostname,
    arch: spec.arch ?? 'x86_64',
    boot_mode: 'bios',
    status: spec.status ?? 'ready',
    hardware: JSON.stringify(spec.hardware ?? { cpus: 8, memoryMiB: 16384 }),
    tags: JSON.stringify(spec.tags ?? []),
  });
  return id;
}
