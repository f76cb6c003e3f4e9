/**
 * Looks a machine up by id, hostname, MAC of one of its interfaces, or a short id (the
 * first 4+ hex digits, when no hostname matches). Hostnames are unique per site only,
 * so a hostname found at several sites is a conflict that asks for the id; so is a short
 * id that starts several ids (the candidates are listed).
 */
import type { Knex } from 'knex';
import { SproutError } from '../../errors/index.ts';
import { parseMac } from '../../net/mac.ts';
import { isUuid } from '../sites/find-site.ts';
import { ambiguousPrefix, isIdPrefix, rowsByIdPrefix } from '../id-prefix.ts';

/** Bare hex (`aabbccddeeff`) could as well be a hostname or an id prefix: only a MAC with separators is looked up as one. */
const bareHex = /^[0-9a-f]{12}$/i;

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

export async function findMachine(
  db: Knex | Knex.Transaction,
  idOrHostname: string,
  options: { forUpdate?: boolean; siteId?: string } = {},
): Promise<MachineRow> {
  const query = () => {
    const q = db<MachineRow>('machines');
    if (options.siteId) q.andWhere({ site_id: options.siteId });
    if (options.forUpdate) q.forUpdate();
    return q;
  };
  if (isUuid(idOrHostname)) return onlyMachine(await query().where({ id: idOrHostname }).limit(2), idOrHostname);
  const mac = bareHex.test(idOrHostname) ? undefined : parseMac(idOrHostname);
  if (mac) {
    return onlyMachine(await query().whereIn('id', db('interfaces').select('machine_id').where({ mac })).limit(2), idOrHostname);
  }
  const byHostname = await query().where({ hostname: idOrHostname.toLowerCase() }).limit(2);
  if (byHostname.length > 0 || !isIdPrefix(idOrHostname)) return onlyMachine(byHostname, idOrHostname);
  const candidates = (
    await rowsByIdPrefix<{ id: string; hostname: string; site_id: string }>(db, 'machines', idOrHostname, ['id', 'hostname', 'site_id'])
  ).filter((c) => !options.siteId || c.site_id === options.siteId);
  if (candidates.length > 1)
    throw ambiguousPrefix(
      'machine',
      idOrHostname,
      candidates.map((c) => `${c.id.slice(0, 8)} (${c.hostname})`),
    );
  return onlyMachine(candidates.length ? await query().where({ id: candidates[0].id }).limit(2) : [], idOrHostname);
}

/** The one machine a lookup of at most two rows found, or the error an operator needs. */
export function onlyMachine<T>(rows: T[], idOrHostname: string): T {
  if (rows.length === 0)
    throw new SproutError('SPROUT_ERR_NOT_FOUND', `no machine "${idOrHostname}"`, {
      details: [{ field: 'machine', message: `no machine with id, hostname or MAC "${idOrHostname}"` }],
    });
  if (rows.length > 1) throw new SproutError('SPROUT_ERR_CONFLICT', `hostname "${idOrHostname}" exists at several sites; use the machine id`);
  return rows[0];
}

/** The interface a machine PXE-boots from: the one flagged `pxe`, else the first. */
export async function pxeInterface(db: Knex | Knex.Transaction, machineId: string): Promise<InterfaceRow | undefined> {
  const rows = await db<InterfaceRow>('interfaces')
    .where({ machine_id: machineId })
    .orderBy([{ column: 'pxe', order: 'desc' }, { column: 'name' }]);
  return rows[0];
}
