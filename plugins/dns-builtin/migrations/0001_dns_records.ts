/**
 * The builtin DNS provider's records: one row per (site, zone, name, type), which the
 * site agent serves authoritatively. Owned by this plugin; the kernel never writes it.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('dns_records', (t) => {
    t.uuid('site_id').notNullable().references('sites.id').onDelete('CASCADE');
    t.string('zone', 253).notNullable();
    t.string('name', 253).notNullable();
    t.string('type', 8).notNullable().checkIn(['A', 'PTR']);
    t.string('value', 253).notNullable();
    /** Null: the serving agent's default TTL. */
    t.integer('ttl');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['site_id', 'zone', 'name', 'type']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('dns_records');
}
