/**
 * The outbox becomes the work queue of transports whose agents lease work from the
 * control plane (transport-http): a row carries its own lease (`available_at`,
 * `deliveries`) and settlement (`acked_at`, `dead_at`), so no transport copies it into a
 * table of its own. A trigger NOTIFYs `sprout_outbox` with `<schema> <site id>` when a
 * row is written, which wakes long polls of that site in every control plane.
 *
 * Upgrading from transport-http's own queue (`http_work_items`, dropped by its migration
 * 0004 after this one): the lease state of items it held is carried over, and items it
 * held but never delivered become undispatched again, so whichever transport runs next
 * hands them out. This reads the plugin's table once, here, because the plugin must not
 * write the kernel's.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    /** Leased until then (deliverable again after); null: never leased. */
    t.timestamp('available_at', { useTz: true });
    /** Leases handed out so far. */
    t.integer('deliveries').notNullable().defaultTo(0);
    t.timestamp('acked_at', { useTz: true });
    /** Withdrawn, or given up after its last delivery (then `dead_reason` says why). */
    t.timestamp('dead_at', { useTz: true });
    t.text('dead_reason');
  });
  await knex.raw('create index outbox_pending on outbox (site_id, id) where acked_at is null and dead_at is null');
  await knex.raw(`
    create or replace function sprout_outbox_notify() returns trigger language plpgsql as $$
    begin
      perform pg_notify('sprout_outbox', tg_table_schema || ' ' || new.site_id);
      return null;
    end $$`);
  await knex.raw('create trigger outbox_notify after insert on outbox for each row execute function sprout_outbox_notify()');

  if ((await knex.schema.hasTable('http_work_items')) && (await knex.schema.hasTable('http_dead_letters'))) {
    await knex.raw(`
      update outbox o set
        deliveries = h.deliveries,
        available_at = h.available_at,
        acked_at = h.acked_at,
        -- A dead letter not handled yet stays exhausted instead, for the dead-letter handler to take.
        dead_at = case when d.item_id is null then h.dead_at end,
        dead_reason = case when h.dead_at is not null and d.item_id is null then 'given up by transport-http' end
      from http_work_items h left join http_dead_letters d on d.item_id = h.id
      where h.id = 'wi-' || o.id and h.deliveries > 0`);
    await knex.raw(`
      update outbox o set dispatched_at = null
      from http_work_items h
      where h.id = 'wi-' || o.id and h.deliveries = 0 and h.acked_at is null and h.dead_at is null`);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger if exists outbox_notify on outbox');
  await knex.raw('drop function if exists sprout_outbox_notify()');
  await knex.raw('drop index if exists outbox_pending');
  await knex.schema.alterTable('outbox', (t) => {
    t.dropColumns('available_at', 'deliveries', 'acked_at', 'dead_at', 'dead_reason');
  });
}
