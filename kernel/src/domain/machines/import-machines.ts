/**
 * Bulk import of machines from a JSON array or CSV (`site,hostname,arch,bootMode,mac,tags`;
 * several MACs or tags separated by spaces, the first MAC being the PXE interface).
 * Every row gets its own answer — created, unchanged or error with the field — and a
 * re-import of the same file changes nothing.
 */
import type { Knex } from 'knex';
import { schemaProblems } from '../../config/schema-errors.ts';
import { isSproutError, SproutError, type ProblemDetail } from '../../errors/index.ts';
import type { MachineService } from './machine-service.ts';
import { MachineInput, normaliseMac } from './schemas.ts';

export interface ImportRow {
  row: number;
  hostname: string | null;
  outcome: 'created' | 'unchanged' | 'error';
  machineId?: string;
  errors?: ProblemDetail[];
}

const csvColumns = ['site', 'hostname', 'arch', 'bootMode', 'mac', 'tags'] as const;

/** CSV text → machine bodies; quoted fields may hold commas. Row numbers count the header as row 1. */
export function parseMachineCsv(text: string): { row: number; body: unknown; errors: ProblemDetail[] }[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.trim());
  const missing = csvColumns.filter((c) => c !== 'tags' && !header.includes(c));
  if (missing.length > 0) {
    throw new SproutError('SPROUT_ERR_VALIDATION', `CSV header must name the columns ${csvColumns.join(',')}; missing: ${missing.join(', ')}`, {
      details: missing.map((c) => ({ field: `header/${c}`, message: 'missing column' })),
    });
  }
  const rows: { row: number; body: unknown; errors: ProblemDetail[] }[] = [];
  lines.slice(1).forEach((line, i) => {
    if (line.trim() === '') return;
    const cells = splitCsvLine(line);
    const value = (column: string) => (cells[header.indexOf(column)] ?? '').trim();
    const errors: ProblemDetail[] = [];
    if (cells.length > header.length) errors.push({ field: 'row', message: `${cells.length} cells but the header has ${header.length}` });
    const macs = value('mac').split(/\s+/).filter(Boolean);
    const tags = value('tags').split(/\s+/).filter(Boolean);
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
      },
    });
  });
  return rows;
}

function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') cells.push(cell), (cell = '');
    else cell += ch;
  }
  cells.push(cell);
  return cells;
}

export async function importMachines(
  trx: Knex.Transaction,
  machines: MachineService,
  rows: { row: number; body: unknown; errors?: ProblemDetail[] }[],
): Promise<ImportRow[]> {
  const results: ImportRow[] = [];
  for (const { row, body, errors = [] } of rows) {
    const hostname = typeof (body as { hostname?: unknown })?.hostname === 'string' ? ((body as { hostname: string }).hostname.toLowerCase() || null) : null;
    const problems = [...errors, ...schemaProblems(MachineInput, body, '').map((p) => ({ ...p, field: (p.field ?? 'row').replace(/\./g, '/') }))];
    if ((body as { interfaces?: unknown[] })?.interfaces?.length === 0) problems.push({ field: 'mac', message: 'at least one MAC address is required' });
    if (problems.length > 0) {
      results.push({ row, hostname, outcome: 'error', errors: problems });
      continue;
    }
    const input = body as MachineInput;
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
  const wanted = input.interfaces.map((i) => normaliseMac(i.mac)).sort();
  const differs: ProblemDetail[] = [];
  if (machine.arch !== input.arch) differs.push({ field: 'arch', message: `machine exists with arch ${machine.arch}` });
  if (machine.boot_mode !== input.bootMode) differs.push({ field: 'bootMode', message: `machine exists with bootMode ${machine.boot_mode}` });
  if (JSON.stringify(macs) !== JSON.stringify(wanted)) differs.push({ field: 'mac', message: `machine exists with MACs ${macs.join(' ')}` });
  if (JSON.stringify([...(machine.tags ?? [])].sort()) !== JSON.stringify([...new Set(input.tags ?? [])].sort())) differs.push({ field: 'tags', message: `machine exists with tags ${(machine.tags ?? []).join(' ') || '(none)'}` });
  return differs.length === 0 ? true : differs;
}
