/**
 * The representation of a machine the API and CLI show, and the one query that reads
 * it: the machine row joined to its site, with its interfaces (by name) and the latest
 * result of each hardware test aggregated as JSON — one round trip per page, whatever
 * the number of machines on it.
 */
import type { Knex } from 'knex';
import { operatorActionsFrom } from '../lifecycle/transitions.ts';
import type { MachineRow } from './find-machine.ts';

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
  bmc: Record<string, unknown> | null;
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

/** Adds the site, interfaces and latest hardware tests to a query on `machines as m`. */
export function withRelatedParts(db: Knex | Knex.Transaction, q: Knex.QueryBuilder): Knex.QueryBuilder {
  return q.join('sites as s', 's.id', 'm.site_id').select(
    db.raw(`json_build_object('id', s.id, 'name', s.name) as view_site`),
    db.raw(
      `coalesce((select json_agg(json_build_object('id', i.id, 'mac', i.mac, 'name', i.name, 'pxe', i.pxe) order by i.name)
                 from interfaces i where i.machine_id = m.id), '[]') as view_interfaces`,
    ),
    db.raw(
      `coalesce((select json_agg(json_build_object('name', t.name, 'status', t.status, 'durationMs', t.duration_ms, 'output', t.output, 'at', t.at, 'workflow', t.workflow_id))
                 from (select distinct on (r.name) r.* from hardware_test_results r where r.machine_id = m.id order by r.name, r.id desc) t), '[]') as view_tests`,
    ),
  );
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
    bmc: m.bmc,
    expected: m.expected ?? {},
    hardware: m.hardware ?? {},
    owner: m.owner,
    hardwareTests: parts.view_tests.map((r) => ({ ...r, at: iso(r.at) })).sort((a, b) => a.name.localeCompare(b.name)),
    createdAt: iso(m.created_at),
    updatedAt: iso(m.updated_at),
  };
}
