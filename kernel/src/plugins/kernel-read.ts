/**
 * What a plugin may read of the kernel's tables, as a typed API (`ctx.read`): plugins own
 * their tables and never query the kernel's (machines, interfaces, dhcp_leases…) with
 * SQL of their own, nor put foreign keys on them. A plugin references kernel rows by id
 * and cleans its own rows up through the `*Removing` hooks (docs/plugins.md).
 * Every method takes the caller's transaction (or the database) so reads see the
 * caller's uncommitted writes and locks are held until it ends.
 */
import type { Knex } from 'knex';
import { preparedRows } from '../store/prepared-statement.ts';

/** A `ready` machine as the allocation provider matches it against constraints. */
export interface ReadyMachine {
  id: string;
  hostname: string;
  siteId: string;
  arch: string;
  tags: string[];
  /** Commissioned facts (`cpus`, `memoryMiB`, `disks`…); a fact never recorded is absent. */
  hardware: Record<string, unknown>;
}

export interface KernelRead {
  machines: {
    /**
     * The `ready` machines, by hostname then id, narrowed by site and arch when given.
     * Read only: nothing is locked (see lockFirstReady).
     */
    ready(db: Knex | Knex.Transaction, filter?: { siteId?: string; arch?: string }): Promise<ReadyMachine[]>;
    /**
     * Locks, in `trx` (`FOR UPDATE SKIP LOCKED`), the first of `ids` in their order that
     * is still `ready` and that no other transaction holds; its id, or null when every one
     * is taken or no longer ready. Racing callers never get the same machine.
     */
    lockFirstReady(trx: Knex.Transaction, ids: string[]): Promise<string | null>;
  };
  leases: {
    /**
     * Addresses inside `cidr` whose DHCP lease may still be live at the site (bound and
     * not expired, as the site's agent last reported), except the leases held by one of
     * `exceptMachineId`'s own MACs.
     */
    liveAddresses(db: Knex | Knex.Transaction, query: { siteId: string; cidr: string; exceptMachineId?: string }): Promise<string[]>;
  };
  /**
   * A read on a request's path as a named prepared statement: PostgreSQL plans it once per
   * connection, and no query builder runs on each call. `text` uses $1… placeholders and
   * must be the same whenever `name` is used; begin `name` with the plugin's id. It runs on
   * `db`'s pool, or inside its transaction when `db` is one.
   */
  prepared<T>(db: Knex | Knex.Transaction, name: string, text: string, values: unknown[]): Promise<T[]>;
}

interface MachineRow {
  id: string;
  hostname: string;
  site_id: string;
  arch: string;
  tags: string[] | string;
  hardware: Record<string, unknown> | string;
}

const json = <T>(value: T | string): T => (typeof value === 'string' ? (JSON.parse(value) as T) : value);

export function kernelRead(): KernelRead {
  return Object.freeze({
    machines: Object.freeze({
      async ready(db: Knex | Knex.Transaction, filter: { siteId?: string; arch?: string } = {}): Promise<ReadyMachine[]> {
        const q = db('machines').where('status', 'ready');
        if (filter.siteId !== undefined) q.andWhere('site_id', filter.siteId);
        if (filter.arch !== undefined) q.andWhere('arch', filter.arch);
        const rows: MachineRow[] = await q.orderBy(['hostname', 'id']).select('id', 'hostname', 'site_id', 'arch', 'tags', 'hardware');
        return rows.map((r) => ({
          id: r.id,
          hostname: r.hostname,
          siteId: r.site_id,
          arch: r.arch,
          tags: json(r.tags) ?? [],
          hardware: json(r.hardware) ?? {},
        }));
      },
      async lockFirstReady(trx: Knex.Transaction, ids: string[]): Promise<string | null> {
        if (ids.length === 0) return null;
        const { rows } = await trx.raw(
          `select m.id from machines m join jsonb_array_elements_text(cast(? as jsonb)) with ordinality as wanted(id, n) on m.id = cast(wanted.id as uuid)
           where m.status = 'ready' order by wanted.n limit 1 for update of m skip locked`,
          [JSON.stringify(ids)],
        );
        return rows[0]?.id ?? null;
      },
    }),
    leases: Object.freeze({
      async liveAddresses(db: Knex | Knex.Transaction, query: { siteId: string; cidr: string; exceptMachineId?: string }): Promise<string[]> {
        const { rows } = await db.raw(
          `select distinct host(cast(l.address as inet)) as address from dhcp_leases l
           where l.site_id = ? and l.state = 'bound' and (l.expires_at is null or l.expires_at > now())
             and cast(l.address as inet) << cast(? as cidr)
             and l.mac not in (select i.mac from interfaces i where i.machine_id = ?)`,
          [query.siteId, query.cidr, query.exceptMachineId ?? null],
        );
        return (rows as { address: string }[]).map((r) => r.address);
      },
    }),
    prepared: preparedRows,
  });
}
