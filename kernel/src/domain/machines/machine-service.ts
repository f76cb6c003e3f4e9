/**
 * Machines: creation with every rule an operator relies on (hostnames unique per site,
 * MACs unique across Sprout, exactly one PXE interface), the representation the API
 * and CLI show (failure reason first-class), listing with filters and cursors, updates
 * that report old → new, and lifecycle history.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { SproutError, type ProblemDetail } from '../../errors/index.ts';
import { findSite, isUuid } from '../sites/find-site.ts';
import { findMachine, onlyMachine, type MachineRow } from './find-machine.ts';
import {
  readRelatedParts,
  readShowRows,
  readViewPage,
  readViewRows,
  toView,
  type MachineView,
  type RelatedParts,
  type SiteNetworkRow,
} from './machine-view.ts';
import { normaliseMac, type MachineInput, type MachineUpdate } from './schemas.ts';
import { cursorCodec } from '../../api/cursor.ts';
import type { BmcRules } from './bmc.ts';
import type { StatusReason } from '../lifecycle/lifecycle.ts';
import type { KernelHooks } from '../../hooks/hooks.ts';
import type { AuditEntry, AuditLog } from '../../audit/audit-log.ts';

const machineCursor = cursorCodec('machines', ['text', 'uuid']);

export type { MachineView } from './machine-view.ts';

export interface MachineFilter {
  site?: string;
  status?: string;
  tag?: string;
  limit?: number;
  cursor?: string;
}

const iso = (v: unknown) => new Date(v as string).toISOString();

export class MachineService {
  constructor(private readonly deps: { db: Knex; bmc: BmcRules; hooks: KernelHooks }) {}

  /** The BMC rules (known drivers, sealing): import shares them. */
  get bmc(): BmcRules {
    return this.deps.bmc;
  }

  /** The machines `target` names exactly: by id (a UUID) or by hostname, in any site. */
  async namedBy(target: string, db: Knex | Knex.Transaction = this.deps.db): Promise<{ id: string; hostname: string }[]> {
    return db('machines')
      .select('id', 'hostname')
      .where((q) => {
        if (isUuid(target)) q.where('id', target);
        else q.where('hostname', target.toLowerCase());
      });
  }

  /** Records who holds an allocated machine (an allocation's owner); answers the row. */
  async setOwner(trx: Knex.Transaction, machineId: string, owner: string | null): Promise<MachineRow> {
    const [row] = await trx<MachineRow>('machines').where({ id: machineId }).update({ owner }).returning('*');
    if (!row) throw new SproutError('SPROUT_ERR_NOT_FOUND', `no machine ${machineId}`);
    return row;
  }

  /** Whether the machine ever finished commissioning (mark-fixed returns it to ready, else new). */
  async wasCommissioned(db: Knex | Knex.Transaction, machineId: string): Promise<boolean> {
    return !!(await db('machine_events').where({ machine_id: machineId, action: 'commission_succeeded' }).first('id'));
  }

  /**
   * Deletes a machine and its interfaces; its workflows stay, detached. The caller has
   * checked it is not in use and forgotten it at its site; plugins drop their own rows
   * for it in `machineRemoving`, in the same transaction.
   */
  async remove(trx: Knex.Transaction, machine: Pick<MachineRow, 'id'>): Promise<void> {
    await this.deps.hooks.machineRemoving.promise({ id: machine.id, trx });
    await trx('workflows').where({ machine_id: machine.id }).update({ machine_id: null });
    await trx('machines').where({ id: machine.id }).delete();
  }

  /**
   * Validated input → a new machine in status `new`. Throws with every field problem found.
   * It comes back with its related parts (site, interfaces, no test results yet), so its
   * view needs no further read. The site, the hostname and the MACs are checked in one
   * query, and the machine and its interfaces written in one statement: a create is a
   * handful of round trips inside its transaction, not one per rule.
   */
  async create(trx: Knex.Transaction, input: MachineInput): Promise<MachineRow & RelatedParts> {
    return this.insert(trx, input);
  }

  /**
   * Creates a machine and writes `record` (its audit record, from the machine's id) in one
   * statement: atomic without a transaction, one round trip (`POST /v1/machines`). The checks
   * (site, hostname, MACs) are part of it; when one fails, nothing is written.
   */
  async createRecorded(input: MachineInput, audit: AuditLog, record: (id: string) => AuditEntry): Promise<MachineRow & RelatedParts> {
    let entry: AuditEntry | undefined;
    const row = await this.insert(this.deps.db, input, (id) => {
      entry = record(id);
      return audit.insertFrom(entry, 'machine');
    });
    audit.recorded(row.audit_id!, entry!);
    return row;
  }

  /**
   * The checks and the insert in one statement: the site by id or name, whether the
   * hostname or a MAC is taken, and the machine with its interfaces only when none is;
   * then the refusal that names the field, or the row. `alsoWrite` adds a data-modifying
   * part over the inserted `machine` (its audit record) whose `returning id` is `audit_id`.
   */
  private async insert(
    db: Knex | Knex.Transaction,
    input: MachineInput,
    alsoWrite?: (id: string) => { sql: string; bindings: unknown[] },
  ): Promise<MachineRow & RelatedParts & { audit_id?: number }> {
    const hostname = input.hostname.toLowerCase();
    const interfaces = this.normaliseInterfaces(input.interfaces);
    const macs = interfaces.map((i) => i.mac);
    if (input.bmc) await this.deps.bmc.check(input.bmc);
    const id = randomUUID();
    const bmc = input.bmc ? this.deps.bmc.write(id, input.bmc) : { bmc: null, secret: null };
    const also = alsoWrite?.(id);
    const [row] = rowsOf<
      MachineRow & {
        checked_site_id: string;
        checked_site_name: string;
        hostname_taken: boolean;
        macs_taken: { mac: string; hostname: string; id: string }[] | null;
        view_interfaces: RelatedParts['view_interfaces'];
        audit_id: number | null;
      }
    >(
      await db.raw(
        `with checked as (
           select s.id, s.name,
             exists (select 1 from machines m where m.site_id = s.id and m.hostname = ?) as hostname_taken,
             (select json_agg(json_build_object('mac', i.mac, 'hostname', m.hostname, 'id', m.id) order by i.mac)
                from interfaces i join machines m on m.id = i.machine_id
               where i.mac in (${macs.map(() => '?').join(', ')})) as macs_taken
           from sites s where ${isUuid(input.site) ? 's.id = ?' : 's.name = ?'}),
         machine as (
           insert into machines (id, site_id, hostname, arch, boot_mode, tags, bmc, bmc_secret, expected, status)
           select ?, checked.id, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?::jsonb, 'new' from checked
           where not checked.hostname_taken and checked.macs_taken is null
           returning *),
         nics as (
           insert into interfaces (id, machine_id, mac, name, pxe)
           select n.id, machine.id, n.mac, n.name, n.pxe from machine, jsonb_to_recordset(?::jsonb) as n(id uuid, mac text, name text, pxe boolean)
           returning id, mac, name, pxe)${also ? `,\n         recorded as (${also.sql})` : ''}
         select checked.id as checked_site_id, checked.name as checked_site_name, checked.hostname_taken, checked.macs_taken, machine.*,
           (select json_agg(json_build_object('id', nics.id, 'mac', nics.mac, 'name', nics.name, 'pxe', nics.pxe) order by nics.name) from nics) as view_interfaces,
           ${also ? '(select id from recorded)' : 'null::bigint'} as audit_id
         from checked left join machine on true`,
        [
          hostname,
          ...macs,
          input.site,
          id,
          hostname,
          input.arch,
          input.bootMode,
          JSON.stringify(dedupe(input.tags ?? [])),
          bmc.bmc ? JSON.stringify(bmc.bmc) : null,
          bmc.secret ?? null,
          JSON.stringify(input.expected ?? {}),
          JSON.stringify(interfaces.map((i) => ({ id: randomUUID(), ...i }))),
          ...((also?.bindings ?? []) as Knex.RawBinding[]),
        ],
      ),
    );
    if (!row) {
      throw new SproutError('SPROUT_ERR_VALIDATION', `no site "${input.site}"`, {
        details: [{ field: 'site', message: `no site with id or name "${input.site}"` }],
      });
    }
    if (row.hostname_taken) {
      throw new SproutError('SPROUT_ERR_CONFLICT', `site ${row.checked_site_name} already has a machine named ${hostname}`, {
        details: [{ field: 'hostname', message: 'already taken at this site' }],
      });
    }
    refuseTaken(macs, row.macs_taken ?? []);
    const { checked_site_id, checked_site_name, hostname_taken: _h, macs_taken: _m, audit_id, ...machine } = row;
    return { ...machine, audit_id: audit_id ?? undefined, view_site: { id: checked_site_id, name: checked_site_name }, view_tests: [] };
  }

  normaliseInterfaces(input: MachineInput['interfaces']): { mac: string; name: string; pxe: boolean }[] {
    const problems: ProblemDetail[] = [];
    const seen = new Map<string, number>();
    const names = new Set<string>();
    const interfaces = input.map((nic, i) => {
      const mac = normaliseMac(nic.mac);
      if (seen.has(mac)) problems.push({ field: `interfaces/${i}/mac`, message: `${mac} is listed twice (also interfaces/${seen.get(mac)})` });
      seen.set(mac, i);
      const name = nic.name ?? `eth${i}`;
      if (names.has(name)) problems.push({ field: `interfaces/${i}/name`, message: `${name} is listed twice` });
      names.add(name);
      return { mac, name, pxe: nic.pxe === true };
    });
    const pxe = interfaces.filter((i) => i.pxe).length;
    if (pxe > 1) problems.push({ field: 'interfaces', message: 'at most one interface may be the PXE interface' });
    if (pxe === 0) interfaces[0].pxe = true;
    if (problems.length)
      throw new SproutError('SPROUT_ERR_VALIDATION', `interfaces are invalid: ${problems.map((p) => p.message).join('; ')}`, { details: problems });
    return interfaces;
  }

  /** Views of machines already read (after a change): their related parts in one query, unless a row carries them (a machine just created). */
  async views(rows: (MachineRow | (MachineRow & RelatedParts))[], db: Knex | Knex.Transaction = this.deps.db): Promise<MachineView[]> {
    const carried = (m: MachineRow): m is MachineRow & RelatedParts => 'view_interfaces' in m;
    const missing = rows.filter((m) => !carried(m)).map((m) => m.id);
    const parts = missing.length > 0 ? await readRelatedParts(db, missing) : new Map<string, RelatedParts>();
    return rows.map((m) => toView(m, carried(m) ? m : parts.get(m.id)!));
  }

  async view(row: MachineRow, db: Knex | Knex.Transaction = this.deps.db): Promise<MachineView> {
    return (await this.views([row], db))[0];
  }

  /** The machine with this id or hostname (or MAC, or short id), read with everything its view shows in one query. */
  async find(idOrHostname: string): Promise<MachineView> {
    const row = await this.findRow(idOrHostname, readViewRows);
    return toView(row, row);
  }

  /** What `GET /v1/machines/{id}` shows, with the networks of the machine's site (for its addresses), in one read. */
  async show(idOrHostname: string): Promise<{ machine: MachineView; siteNetworks: SiteNetworkRow[] }> {
    const row = await this.findRow(idOrHostname, readShowRows);
    return { machine: toView(row, row), siteNetworks: row.view_networks };
  }

  /** By id or hostname, else by MAC or short id (resolved, or refused as unknown or ambiguous, by findMachine). */
  private async findRow<R extends MachineRow>(
    idOrHostname: string,
    read: (db: Knex, shape: string, conditions: string, values: unknown[]) => Promise<R[]>,
  ): Promise<R> {
    let rows = isUuid(idOrHostname)
      ? await read(this.deps.db, 'by_id', 'm.id = $1 limit 2', [idOrHostname])
      : await read(this.deps.db, 'by_hostname', 'm.hostname = $1 limit 2', [idOrHostname.toLowerCase()]);
    if (rows.length === 0 && !isUuid(idOrHostname)) {
      const { id } = await findMachine(this.deps.db, idOrHostname);
      rows = await read(this.deps.db, 'by_id', 'm.id = $1 limit 2', [id]);
    }
    return onlyMachine(rows, idOrHostname);
  }

  /** Ordered by hostname then id; the cursor is the last item's position. */
  async list(filter: MachineFilter): Promise<{ items: MachineView[]; nextCursor: string | null }> {
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
    const shape: string[] = ['list'];
    const conditions: string[] = [];
    const bindings: unknown[] = [];
    // Each condition's `?` becomes the next $n.
    const where = (name: string, condition: string, ...values: unknown[]) => {
      shape.push(name);
      conditions.push(
        condition.replace(/\?/g, () => {
          bindings.push(values.shift());
          return `$${bindings.length}`;
        }),
      );
    };
    // The site's id by a subselect, not a lookup of its own (whether the site exists matters
    // only for an empty page), and not through the joined row: with the id known before the
    // scan, PostgreSQL walks the (site_id, hostname) index in order and stops at the page's end.
    if (filter.site) {
      if (isUuid(filter.site)) where('site_id', 'm.site_id = ?', filter.site);
      else where('site_name', 'm.site_id = (select id from sites where name = ?)', filter.site);
    }
    if (filter.status) where('status', 'm.status = ?', filter.status);
    if (filter.tag) where('tag', 'm.tags @> ?::jsonb', JSON.stringify([filter.tag]));
    if (filter.cursor) where('cursor', '(m.hostname, m.id) > (?, ?)', ...machineCursor.decode(filter.cursor));
    bindings.push(limit + 1);
    const rows = await readViewPage(
      this.deps.db,
      shape.join('_'),
      `${conditions.length > 0 ? conditions.join(' and ') : 'true'} order by m.hostname, m.id limit $${bindings.length}`,
      bindings,
    );
    if (rows.length === 0 && filter.site) await findSite(this.deps.db, filter.site);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map((m) => toView(m, m)), nextCursor: rows.length > limit ? machineCursor.encode(last.hostname, last.id) : null };
  }

  /** Applies an update; returns the row and the changed fields as old → new. */
  async update(
    trx: Knex.Transaction,
    machine: MachineRow,
    patch: MachineUpdate,
  ): Promise<{ row: MachineRow; changes: Record<string, { old: unknown; new: unknown }> }> {
    const next: Record<string, unknown> = {};
    const changes: Record<string, { old: unknown; new: unknown }> = {};
    const set = (field: string, column: keyof MachineRow, value: unknown, stored: unknown = value) => {
      if (JSON.stringify(machine[column]) === JSON.stringify(value)) return;
      changes[field] = { old: machine[column], new: value };
      next[column] = stored;
    };
    if (patch.hostname !== undefined) {
      const hostname = patch.hostname.toLowerCase();
      if (hostname !== machine.hostname && (await trx('machines').where({ site_id: machine.site_id, hostname }).first())) {
        throw new SproutError('SPROUT_ERR_CONFLICT', `this site already has a machine named ${hostname}`, {
          details: [{ field: 'hostname', message: 'already taken at this site' }],
        });
      }
      set('hostname', 'hostname', hostname);
    }
    if (patch.tags !== undefined) set('tags', 'tags', dedupe(patch.tags), JSON.stringify(dedupe(patch.tags)));
    if (patch.bmc !== undefined) {
      if (patch.bmc) await this.deps.bmc.check(patch.bmc);
      const bmc = this.deps.bmc.write(machine.id, patch.bmc, machine.bmc);
      set('bmc', 'bmc', bmc.bmc, bmc.bmc === null ? null : JSON.stringify(bmc.bmc));
      // Only whether credentials are set is ever told, never what they are.
      const had = machine.bmc_secret != null;
      if (bmc.secret !== undefined && (bmc.secret !== null || had)) {
        changes.credentials = { old: had ? 'set' : 'not set', new: bmc.secret === null ? 'not set' : had ? 'replaced' : 'set' };
        next.bmc_secret = bmc.secret;
      }
    }
    if (patch.expected !== undefined) set('expected', 'expected', patch.expected, JSON.stringify(patch.expected));
    if (patch.owner !== undefined) set('owner', 'owner', patch.owner);
    if (Object.keys(next).length === 0) return { row: machine, changes };
    const [row] = await trx<MachineRow>('machines')
      .where({ id: machine.id })
      .update({ ...next, updated_at: trx.fn.now() as never })
      .returning('*');
    return { row, changes };
  }

  async events(
    machineId: string,
  ): Promise<
    { id: number; at: string; action: string; from: string | null; to: string; reason: StatusReason | null; actor: string; workflow: string | null }[]
  > {
    const rows = await this.deps.db('machine_events').where({ machine_id: machineId }).orderBy('id');
    return rows.map((e) => ({
      id: Number(e.id),
      at: iso(e.at),
      action: e.action,
      from: e.from_status,
      to: e.to_status,
      reason: e.reason,
      actor: e.actor,
      workflow: e.workflow_id,
    }));
  }
}

/** The conflict of MACs that belong to other machines, naming each one's machine. */
function refuseTaken(macs: string[], taken: { mac: string; hostname: string; id: string }[]): void {
  if (taken.length === 0) return;
  throw new SproutError('SPROUT_ERR_CONFLICT', `MAC address already in use: ${taken.map((t) => `${t.mac} (machine ${t.hostname})`).join(', ')}`, {
    details: taken.map((t) => ({ field: `interfaces/${macs.indexOf(t.mac)}/mac`, message: `${t.mac} belongs to machine ${t.hostname} (${t.id})` })),
  });
}

/** The rows of a `knex.raw` result: pg answers a result object, PGlite its rows. */
function rowsOf<T>(result: unknown): T[] {
  return ((result as { rows?: T[] }).rows ?? result) as T[];
}

function dedupe(values: string[]): string[] {
  return [...new Set(values)];
}
