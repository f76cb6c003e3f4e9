/**
 * The representation of a machine the API and CLI show, and the one query that reads
 * it: the machine row joined to its site, with its interfaces (by name) and the latest
 * result of each hardware test aggregated as JSON — one round trip per page, whatever
 * the number of machines on it. Each shape of the query is a named prepared statement,
 * so PostgreSQL plans it once per connection, not on every request; it names its
 * columns (no `m.*`) so that a migration adding a column does not invalidate it.
 */
import type { Knex } from 'knex';
import { operatorActionsFrom } from '../lifecycle/transitions.ts';
import { preparedRows } from '../../store/prepared-statement.ts';
import type { MachineRow } from './find-machine.ts';
import { bmcView } from './bmc.ts';

export interface MachineView {
  id: string;
  site: { id: string; name: string };
  hostname: string;
  arch: string;
  bootMode: string;
  status: string;
  statusReason: MachineRow['status_reason'];
  statusChangedAt: string;
  statusDeadline: string | null;
  currentWorkflow: string | null;
  allowedActions: string[];
  tags: string[];
  interfaces: { id: string; mac: string; name: string; pxe: boolean }[];
  /** Never the password: only whether one is set. */
  bmc: ReturnType<typeof bmcView>;
  /** What the site last read from the BMC (poll, power command or workflow step). */
  power: { state: 'on' | 'off' | 'unknown' | null; checkedAt: string | null; error: string | null };
  /** The BMC disagrees with the status (a deployed machine powered off), else null. */
  powerMismatch: string | null;
  expected: Record<string, unknown>;
  hardware: Record<string, unknown>;
  owner: string | null;
  /** The latest result of each hardware test. */
  hardwareTests: { name: string; status: string; durationMs: number; output: string; at: string; workflow: string | null }[];
  createdAt: string;
  updatedAt: string;
}

/** What the view query adds to each machine row. */
export interface RelatedParts {
  view_site: { id: string; name: string };
  view_interfaces: MachineView['interfaces'];
  view_tests: { name: string; status: string; durationMs: number; output: string; at: string; workflow: string | null }[];
}

const machineColumns = [
  'id',
  'site_id',
  'hostname',
  'arch',
  'boot_mode',
  'tags',
  'bmc',
  'expected',
  'hardware',
  'owner',
  'status',
  'status_reason',
  'status_changed_at',
  'status_deadline',
  'current_workflow_id',
  'created_at',
  'updated_at',
  'power_state',
  'power_checked_at',
  'power_error',
]
  .map((column) => `m.${column}`)
  // whether a password is sealed, never the sealed value
  .concat('(m.bmc_secret is not null) as bmc_credentials_set');

const relatedParts = `json_build_object('id', s.id, 'name', s.name) as view_site,
  coalesce((select json_agg(json_build_object('id', i.id, 'mac', i.mac, 'name', i.name, 'pxe', i.pxe) order by i.name)
            from interfaces i where i.machine_id = m.id), '[]') as view_interfaces,
  coalesce((select json_agg(json_build_object('name', t.name, 'status', t.status, 'durationMs', t.duration_ms, 'output', t.output, 'at', t.at, 'workflow', t.workflow_id))
            from (select distinct on (r.name) r.* from hardware_test_results r where r.machine_id = m.id order by r.name, r.id desc) t), '[]') as view_tests`;

const viewSelect = `select ${machineColumns.join(', ')}, ${relatedParts} from machines m join sites s on s.id = m.site_id`;

/**
 * The related parts of a whole page at once: one aggregate per table, not two subqueries
 * per row. Materialised: the planner guesses one row for the page and would otherwise
 * re-run the test results' sort once per machine of it.
 */
const pageParts = `
  nics as materialized (select i.machine_id, json_agg(json_build_object('id', i.id, 'mac', i.mac, 'name', i.name, 'pxe', i.pxe) order by i.name) as list
           from interfaces i where i.machine_id in (select id from page) group by i.machine_id),
  tests as materialized (select t.machine_id, json_agg(json_build_object('name', t.name, 'status', t.status, 'durationMs', t.duration_ms, 'output', t.output, 'at', t.at, 'workflow', t.workflow_id)) as list
            from (select distinct on (r.machine_id, r.name) r.* from hardware_test_results r where r.machine_id in (select id from page) order by r.machine_id, r.name, r.id desc) t
            group by t.machine_id)
  select page.*, json_build_object('id', s.id, 'name', s.name) as view_site, coalesce(nics.list, '[]') as view_interfaces, coalesce(tests.list, '[]') as view_tests
  from page join sites s on s.id = page.site_id left join nics on nics.machine_id = page.id left join tests on tests.machine_id = page.id
  order by page.hostname, page.id`;
const partsSelect = `select m.id, ${relatedParts} from machines m join sites s on s.id = m.site_id where m.id = any($1::uuid[])`;

/**
 * Machine rows with their related parts: `conditions` (SQL after `where`, with $1…
 * placeholders, over `machines m` and `sites s`) must be the same text for the same
 * `shape`, which names the prepared statement.
 */
export async function readViewRows(db: Knex | Knex.Transaction, shape: string, conditions: string, values: unknown[]): Promise<(MachineRow & RelatedParts)[]> {
  return preparedRows(db, `sprout_machine_view_${shape}`, `${viewSelect} where ${conditions}`, values);
}

/** A network of the machine's site, as `machine show` reads its addresses (by name). */
export interface SiteNetworkRow {
  id: string;
  site_id: string;
  name: string;
  cidr: string;
  gateway: string;
  ranges: { kind: 'dynamic' | 'reserved'; start: string; end: string }[];
}

const siteNetworks = `coalesce((select json_agg(json_build_object('id', n.id, 'site_id', n.site_id, 'name', n.name, 'cidr', n.cidr, 'gateway', n.gateway, 'ranges', n.ranges) order by n.name)
  from networks n where n.site_id = m.site_id), '[]') as view_networks`;

/** As readViewRows, with the networks of each machine's site: `GET /v1/machines/{id}` in one read. */
export async function readShowRows(
  db: Knex | Knex.Transaction,
  shape: string,
  conditions: string,
  values: unknown[],
): Promise<(MachineRow & RelatedParts & { view_networks: SiteNetworkRow[] })[]> {
  return preparedRows(
    db,
    `sprout_machine_show_${shape}`,
    `${viewSelect.replace(' from machines m', `, ${siteNetworks} from machines m`)} where ${conditions}`,
    values,
  );
}

/**
 * A page of machines by hostname then id with their related parts: `conditions` (SQL
 * after `where` over `machines m`, with $1… placeholders, ending in its `limit`) must be
 * the same text for the same `shape`.
 */
export async function readViewPage(db: Knex | Knex.Transaction, shape: string, conditions: string, values: unknown[]): Promise<(MachineRow & RelatedParts)[]> {
  const page = `select ${machineColumns.join(', ')} from machines m where ${conditions}`;
  return preparedRows(db, `sprout_machine_page_${shape}`, `with page as (${page}),${pageParts}`, values);
}

/** Only the related parts of the machines `ids`, for rows already in hand. */
export async function readRelatedParts(db: Knex | Knex.Transaction, ids: string[]): Promise<Map<string, RelatedParts>> {
  const rows = await preparedRows<RelatedParts & { id: string }>(db, 'sprout_machine_view_parts', partsSelect, [ids]);
  return new Map(rows.map((row) => [row.id, row]));
}

const iso = (v: unknown) => new Date(v as string).toISOString();

export function toView(m: MachineRow, parts: RelatedParts): MachineView {
  return {
    id: m.id,
    site: parts.view_site,
    hostname: m.hostname,
    arch: m.arch,
    bootMode: m.boot_mode,
    status: m.status,
    statusReason: m.status_reason,
    statusChangedAt: iso(m.status_changed_at),
    statusDeadline: m.status_deadline ? iso(m.status_deadline) : null,
    currentWorkflow: m.current_workflow_id,
    allowedActions: operatorActionsFrom(m.status),
    tags: m.tags ?? [],
    interfaces: parts.view_interfaces,
    bmc: bmcView(m.bmc, (m as { bmc_credentials_set?: boolean }).bmc_credentials_set ?? m.bmc_secret != null),
    power: { state: m.power_state ?? null, checkedAt: m.power_checked_at ? iso(m.power_checked_at) : null, error: m.power_error ?? null },
    powerMismatch: powerMismatchOf(m),
    expected: m.expected ?? {},
    hardware: m.hardware ?? {},
    owner: m.owner,
    hardwareTests: parts.view_tests.map((r) => ({ ...r, at: iso(r.at) })).sort((a, b) => a.name.localeCompare(b.name)),
    createdAt: iso(m.created_at),
    updatedAt: iso(m.updated_at),
  };
}

/** A disagreement between the machine's status and its BMC an operator must see. */
export function powerMismatchOf(m: Pick<MachineRow, 'status' | 'power_state'>): string | null {
  return m.status === 'deployed' && m.power_state === 'off' ? 'deployed but powered off' : null;
}
