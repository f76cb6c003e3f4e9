/** Work waiting for agents that long-poll over HTTP, with leases for redelivery. */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('http_work_items', (t) => {
    t.string('id', 64).primary();
    t.uuid('site_id').notNullable();
    t.jsonb('item').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    /** Leased until then; deliverable again after. */
    t.timestamp('available_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.integer('deliveries').notNullable().defaultTo(0);
    t.timestamp('acked_at', { useTz: true });
    t.timestamp('dead_at', { useTz: true });
    t.index(['site_id', 'acked_at', 'dead_at', 'available_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('http_work_items');
}
