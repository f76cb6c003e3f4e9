/**
 * Looks a machine up by id or hostname. Hostnames are unique per site only, so a
 * hostname found at several sites is a conflict that asks for the id.
 */
import type { Knex } from 'knex';
import { SproutError } from '../../errors/index.ts';
import { isUuid } from '../sites/find-site.ts';

export interface MachineRow {
  id: string;
  site_id: string;
  hostname: string;
  arch: 'x86_64' | 'arm64';
  boot_mode: 'bios' | 'uefi';
  tags: string[];
  bmc: Record<string, unknown> | null;
  /** The sealed BMC password (bmc-credentials.ts): never shown. */
  bmc_secret?: string | null;
  power_state?: 'on' | 'off' | 'unknown' | null;
  power_checked_at?: Date | null;
  power_error?: string | null;
  expected: { cpus?: number; memoryMiB?: number; disks?: number };
  hardware: Record<string, unknown>;
  owner: string | null;
  status: string;
  status_reason: { code: string; message: string; step?: string; workflow?: string } | null;
  status_changed_at: Date;
  status_deadline: Date | null;
  current_workflow_id: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface InterfaceRow {
  id: string;
  machine_id: string;
  mac: string;
  name: string;
  pxe: boolean;
}

export async function findMachine(db: Knex | Knex.Transaction, idOrHostname: string, options: { forUpdate?: boolean; siteId?: string } = {}): Promise<MachineRow> {
  const q = db<MachineRow>('machines');
  if (isUuid(idOrHostname)) q.where({ id: idOrHostname });
  else q.where({ hostname: idOrHostname.toLowerCase() });
  if (options.siteId) q.andWhere({ site_id: options.siteId });
  if (options.forUpdate) q.forUpdate();
  return onlyMachine(await q.limit(2), idOrHostname);
}

/** The one machine a lookup of at most two rows found, or the error an operator needs. */
export function onlyMachine<T>(rows: T[], idOrHostname: string): T {
  if (rows.length === 0) throw new SproutError('SPROUT_ERR_NOT_FOUND', `no machine "${idOrHostname}"`, { details: [{ field: 'machine', message: `no machine with id or hostname "${idOrHostname}"` }] });
  if (rows.length > 1) throw new SproutError('SPROUT_ERR_CONFLICT', `hostname "${idOrHostname}" exists at several sites; use the machine id`);
  return rows[0];
}

/** The interface a machine PXE-boots from: the one flagged `pxe`, else the first. */
export async function pxeInterface(db: Knex | Knex.Transaction, machineId: string): Promise<InterfaceRow | undefined> {
  const rows = await db<InterfaceRow>('interfaces').where({ machine_id: machineId }).orderBy([{ column: 'pxe', order: 'desc' }, { column: 'name' }]);
  return rows[0];
}
