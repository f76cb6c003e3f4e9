/**
 * Bulk import of machines from a JSON array or CSV (`site,hostname,arch,bootMode,mac,tags`
 * and optionally `bmc_type,bmc_address,bmc_username,bmc_password` and the expected hardware
 * `cpus,memoryMiB,disks`; several MACs or tags
 * separated by spaces, the first MAC being the PXE interface). A BMC password is sealed
 * like on create and appears in no answer.
 * Every row gets its own answer — created, unchanged or error with the field — and a
 * re-import of the same file changes nothing. Rows are imported in batches of
 * `importBatchSize`, each batch its own transaction.
 */
import { randomUUID } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Knex } from 'knex';
import { schemaProblems } from '../../config/schema-errors.ts';
import { isSproutError, SproutError, type ProblemDetail } from '../../errors/index.ts';
import { isUuid } from '../sites/find-site.ts';
import type { MachineService } from './machine-service.ts';
import { MachineInput, normaliseMac } from './schemas.ts';
import { bmcProblems } from './bmc.ts';

export interface ImportRow {
  row: number;
  hostname: string | null;
  outcome: 'created' | 'unchanged' | 'error';
  machineId?: string;
  errors?: ProblemDetail[];
}

const csvColumns = ['site', 'hostname', 'arch', 'bootMode', 'mac', 'tags'] as const;
/** Optional columns: a row with `bmc_type` gets a BMC. */
const bmcColumns = ['bmc_type', 'bmc_address', 'bmc_username', 'bmc_password'] as const;
/** Optional columns: the hardware commissioning must find (`expected`; a mismatch fails commissioning). */
const expectedColumns = ['cpus', 'memoryMiB', 'disks'] as const;
const knownColumns: readonly string[] = [...csvColumns, ...bmcColumns, ...expectedColumns];

export interface ParsedCsv {
  rows: { row: number; body: unknown; errors: ProblemDetail[] }[];
  /** What the import ignored and the operator should know: unknown columns. */
  warnings: string[];
}

/**
 * CSV text (RFC 4180: quoted cells may hold commas, quotes and newlines) → machine bodies.
 * Row numbers count records, the header being row 1. Unknown columns are ignored with a
 * warning, not an error: a spreadsheet's extra "notes" column should not stop an import.
 */
export function parseMachineCsv(text: string): ParsedCsv {
  let records: string[][];
  try {
    records = parseCsv(text, { bom: true, relax_column_count: true, skip_empty_lines: true }) as string[][];
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw new SproutError(
      'SPROUT_ERR_VALIDATION',
      `CSV could not be read${e.lines ? ` at line ${e.lines}` : ''}: ${e.message.replace(/^Invalid Record Length: |^Invalid Closing Quote: /, '')}`,
      {
        details: [{ field: 'body', message: e.message }],
      },
    );
  }
  const header = (records[0] ?? []).map((h) => h.trim());
  const missing = csvColumns.filter((c) => c !== 'tags' && !header.includes(c));
  if (missing.length > 0) {
    throw new SproutError('SPROUT_ERR_VALIDATION', `CSV header must name the columns ${csvColumns.join(',')}; missing: ${missing.join(', ')}`, {
      details: missing.map((c) => ({ field: `header/${c}`, message: 'missing column' })),
    });
  }
  const unknown = header.filter((h) => h !== '' && !knownColumns.includes(h));
  const warnings = unknown.length ? [`ignored unknown column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${knownColumns.join(',')})`] : [];
  const rows: ParsedCsv['rows'] = [];
  records.slice(1).forEach((cells, i) => {
    if (cells.every((c) => c.trim() === '')) return;
    const value = (column: string) => (header.includes(column) ? (cells[header.indexOf(column)] ?? '').trim() : '');
    const errors: ProblemDetail[] = [];
    if (cells.length > header.length) errors.push({ field: 'row', message: `${cells.length} cells but the header has ${header.length}` });
    const macs = value('mac').split(/\s+/).filter(Boolean);
    const tags = value('tags').split(/\s+/).filter(Boolean);
    const bmc = bmcOfRow(value, errors);
    const expected = expectedOfRow(value, errors);
    rows.push({
      row: i + 2,
      errors,
      body: {
        site: value('site'),
        hostname: value('hostname'),
        arch: value('arch'),
        bootMode: value('bootMode'),
        interfaces: macs.map((mac, n) => ({ mac, pxe: n === 0 })),
        ...(tags.length ? { tags } : {}),
        ...(bmc ? { bmc } : {}),
        ...(expected ? { expected } : {}),
      },
    });
  });
  return { rows, warnings };
}

/** The BMC a CSV row describes, or undefined; BMC cells without `bmc_type` are a row error. */
function bmcOfRow(value: (column: string) => string, errors: ProblemDetail[]): Record<string, string> | undefined {
  const [type, address, username, password] = bmcColumns.map(value);
  if (!type) {
    if (address || username || password) errors.push({ field: 'bmc_type', message: 'is required when bmc_address, bmc_username or bmc_password is given' });
    return undefined;
  }
  return { type, ...(address ? { address } : {}), ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/** The expected hardware of a row's `cpus`, `memoryMiB`, `disks` cells (whole numbers), or undefined when all are empty. */
function expectedOfRow(value: (column: string) => string, errors: ProblemDetail[]): Record<string, number> | undefined {
  const expected: Record<string, number> = {};
  for (const column of expectedColumns) {
    const cell = value(column);
    if (cell === '') continue;
    if (!/^\d+$/.test(cell)) errors.push({ field: column, message: `must be a whole number (got "${cell}")` });
    else expected[column] = Number(cell);
  }
  return Object.keys(expected).length ? expected : undefined;
}

/** Rows per transaction: small enough that on PGlite (one connection) other requests get a turn between batches. */
export const importBatchSize = 100;

/**
 * Imports one batch of rows inside `trx`. The lookups every row needs (sites, machines
 * already there, MACs taken) are read for the whole batch at once and the new machines
 * are inserted in two statements; if a concurrent writer takes a hostname or MAC between
 * the lookups and the insert, the batch is redone row by row with a savepoint each.
 */
export async function importMachines(
  trx: Knex.Transaction,
  machines: MachineService,
  rows: { row: number; body: unknown; errors?: ProblemDetail[] }[],
): Promise<ImportRow[]> {
  try {
    return await trx.transaction((sp) => importBatch(sp, machines, rows));
  } catch (err) {
    if ((err as { code?: string }).code !== '23505') throw err;
    return importOneByOne(trx, machines, rows);
  }
}

type Checked = { row: number; hostname: string | null; input?: MachineInput; problems: ProblemDetail[] };

function check({ row, body, errors = [] }: { row: number; body: unknown; errors?: ProblemDetail[] }): Checked {
  const hostname = typeof (body as { hostname?: unknown })?.hostname === 'string' ? (body as { hostname: string }).hostname.toLowerCase() || null : null;
  const problems = [...errors, ...schemaProblems(MachineInput, body, '').map((p) => ({ ...p, field: (p.field ?? 'row').replace(/\./g, '/') }))];
  if ((body as { interfaces?: unknown[] })?.interfaces?.length === 0) problems.push({ field: 'mac', message: 'at least one MAC address is required' });
  return problems.length > 0 ? { row, hostname, problems } : { row, hostname, input: body as MachineInput, problems };
}

interface Known {
  id: string;
  hostname: string;
  arch: string;
  boot_mode: string;
  tags: string[] | null;
  macs: string[];
}

async function importBatch(
  trx: Knex.Transaction,
  machines: MachineService,
  rows: { row: number; body: unknown; errors?: ProblemDetail[] }[],
): Promise<ImportRow[]> {
  const checked = rows.map(check);
  const drivers = checked.some((c) => c.input?.bmc) ? await machines.bmc.drivers() : [];
  for (const c of checked) if (c.input?.bmc) c.problems.push(...bmcProblems(c.input.bmc, drivers));
  for (const c of checked) if (c.problems.length > 0) delete c.input;
  const valid = checked.filter((c) => c.input);
  const siteKeys = [...new Set(valid.map((c) => c.input!.site))];
  const sites = siteKeys.length === 0 ? [] : await trx('sites').whereIn('name', siteKeys).orWhereIn('id', siteKeys.filter(isUuid)).select('id', 'name');
  // as `existing` matches: by name, or by id
  const siteOf = (key: string) => sites.find((s) => s.name === key) ?? sites.find((s) => s.id === key);
  const siteIds = [...new Set(sites.map((s) => s.id as string))];
  const hostnames = [...new Set(valid.map((c) => c.input!.hostname.toLowerCase()))];
  const present =
    siteIds.length === 0
      ? []
      : await trx('machines').whereIn('site_id', siteIds).whereIn('hostname', hostnames).select('id', 'site_id', 'hostname', 'arch', 'boot_mode', 'tags');
  const presentMacs =
    present.length === 0
      ? []
      : await trx('interfaces')
          .whereIn(
            'machine_id',
            present.map((m) => m.id),
          )
          .select('machine_id', 'mac');
  const known = new Map<string, Known>();
  for (const m of present)
    known.set(`${m.site_id}/${m.hostname}`, {
      ...m,
      macs: presentMacs
        .filter((i) => i.machine_id === m.id)
        .map((i) => i.mac as string)
        .sort(),
    });
  const wantedMacs = [...new Set(valid.flatMap((c) => c.input!.interfaces.map((i) => safeMac(i.mac)).filter((m): m is string => m !== null)))];
  const taken = new Map<string, { hostname: string; id: string }>();
  if (wantedMacs.length > 0) {
    for (const t of await trx('interfaces')
      .join('machines', 'machines.id', 'interfaces.machine_id')
      .whereIn('interfaces.mac', wantedMacs)
      .select('interfaces.mac', 'machines.hostname', 'machines.id')) {
      taken.set(t.mac, { hostname: t.hostname, id: t.id });
    }
  }

  const results: ImportRow[] = [];
  const newMachines: Record<string, unknown>[] = [];
  const newInterfaces: Record<string, unknown>[] = [];
  for (const { row, hostname, input, problems } of checked) {
    if (!input) {
      results.push({ row, hostname, outcome: 'error', errors: problems });
      continue;
    }
    const site = siteOf(input.site);
    const machine = site && known.get(`${site.id}/${input.hostname.toLowerCase()}`);
    if (machine) {
      const differs = differences(machine, input);
      results.push(
        differs.length === 0 ? { row, hostname, outcome: 'unchanged', machineId: machine.id } : { row, hostname, outcome: 'error', errors: differs },
      );
      continue;
    }
    if (!site) {
      results.push({ row, hostname, outcome: 'error', errors: [{ field: 'site', message: `no site with id or name "${input.site}"` }] });
      continue;
    }
    let interfaces: { mac: string; name: string; pxe: boolean }[];
    try {
      interfaces = machines.normaliseInterfaces(input.interfaces);
    } catch (err) {
      if (!isSproutError(err)) throw err;
      results.push({ row, hostname, outcome: 'error', errors: err.details.length ? err.details : [{ field: 'row', message: err.message }] });
      continue;
    }
    const macs = interfaces.map((i) => i.mac);
    const clash = macs.map((mac, i) => ({ mac, i, owner: taken.get(mac) })).filter((c) => c.owner);
    if (clash.length > 0) {
      results.push({
        row,
        hostname,
        outcome: 'error',
        errors: clash.map((c) => ({ field: `interfaces/${c.i}/mac`, message: `${c.mac} belongs to machine ${c.owner!.hostname} (${c.owner!.id})` })),
      });
      continue;
    }
    const id = randomUUID();
    const tags = [...new Set(input.tags ?? [])];
    const bmc = machines.bmc.write(id, input.bmc ?? null);
    newMachines.push({
      id,
      site_id: site.id,
      hostname: input.hostname.toLowerCase(),
      arch: input.arch,
      boot_mode: input.bootMode,
      tags: JSON.stringify(tags),
      bmc: bmc.bmc ? JSON.stringify(bmc.bmc) : null,
      bmc_secret: bmc.secret ?? null,
      expected: JSON.stringify(input.expected ?? {}),
      status: 'new',
    });
    for (const i of interfaces) newInterfaces.push({ id: randomUUID(), machine_id: id, ...i });
    // later rows of this batch see this machine as the database would
    known.set(`${site.id}/${input.hostname.toLowerCase()}`, {
      id,
      hostname: input.hostname.toLowerCase(),
      arch: input.arch,
      boot_mode: input.bootMode,
      tags,
      macs: [...macs].sort(),
    });
    for (const mac of macs) taken.set(mac, { hostname: input.hostname.toLowerCase(), id });
    results.push({ row, hostname, outcome: 'created', machineId: id });
  }
  if (newMachines.length > 0) {
    await trx('machines').insert(newMachines);
    await trx('interfaces').insert(newInterfaces);
  }
  return results;
}

function safeMac(mac: string): string | null {
  try {
    return normaliseMac(mac);
  } catch {
    return null;
  }
}

/** The import as it was before batching: each row on its own, in a savepoint. Used when a batch meets a concurrent writer. */
async function importOneByOne(
  trx: Knex.Transaction,
  machines: MachineService,
  rows: { row: number; body: unknown; errors?: ProblemDetail[] }[],
): Promise<ImportRow[]> {
  const results: ImportRow[] = [];
  for (const r of rows) {
    const { row, hostname, input, problems } = check(r);
    if (!input) {
      results.push({ row, hostname, outcome: 'error', errors: problems });
      continue;
    }
    const unchanged = await sameAsExisting(trx, input);
    if (unchanged === true) {
      results.push({ row, hostname, outcome: 'unchanged', machineId: (await existing(trx, input))!.id });
      continue;
    }
    if (unchanged) {
      results.push({ row, hostname, outcome: 'error', errors: unchanged });
      continue;
    }
    try {
      // A savepoint per row: a bad row is reported and the others still land.
      const created = await trx.transaction((sp) => machines.create(sp, input));
      results.push({ row, hostname, outcome: 'created', machineId: created.id });
    } catch (err) {
      if (!isSproutError(err)) throw err;
      results.push({ row, hostname, outcome: 'error', errors: err.details.length ? err.details : [{ field: 'row', message: err.message }] });
    }
  }
  return results;
}

async function existing(trx: Knex.Transaction, input: MachineInput) {
  return trx('machines')
    .join('sites', 'sites.id', 'machines.site_id')
    .where('machines.hostname', input.hostname.toLowerCase())
    .andWhere((q) => q.where('sites.name', input.site).orWhereRaw('sites.id::text = ?', [input.site]))
    .first('machines.*');
}

/** true when the machine exists exactly as described; field problems when it exists differently; false when new. */
async function sameAsExisting(trx: Knex.Transaction, input: MachineInput): Promise<true | false | ProblemDetail[]> {
  const machine = await existing(trx, input);
  if (!machine) return false;
  const macs = (await trx('interfaces').where({ machine_id: machine.id }).orderBy('mac')).map((i) => i.mac);
  const differs = differences({ ...machine, macs }, input);
  return differs.length === 0 ? true : differs;
}

/** What differs between a machine that exists (`macs` sorted) and a row describing it. */
function differences(machine: Omit<Known, 'id' | 'hostname'>, input: MachineInput): ProblemDetail[] {
  const wanted = input.interfaces.map((i) => normaliseMac(i.mac)).sort();
  const differs: ProblemDetail[] = [];
  if (machine.arch !== input.arch) differs.push({ field: 'arch', message: `machine exists with arch ${machine.arch}` });
  if (machine.boot_mode !== input.bootMode) differs.push({ field: 'bootMode', message: `machine exists with bootMode ${machine.boot_mode}` });
  if (JSON.stringify(machine.macs) !== JSON.stringify(wanted)) differs.push({ field: 'mac', message: `machine exists with MACs ${machine.macs.join(' ')}` });
  if (JSON.stringify([...(machine.tags ?? [])].sort()) !== JSON.stringify([...new Set(input.tags ?? [])].sort()))
    differs.push({ field: 'tags', message: `machine exists with tags ${(machine.tags ?? []).join(' ') || '(none)'}` });
  return differs;
}
