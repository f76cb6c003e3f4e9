/**
 * Work items that exhausted their deliveries, held until a control-plane instance's
 * dead-letter handler has taken each one (whichever instance leased the item last).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('http_dead_letters', (t) => {
    t.string('item_id', 64).primary();
    t.jsonb('item').notNullable();
    t.text('reason').notNullable();
    t.timestamp('dead_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    /** Not handed to a handler before then: claimed by an instance, or waiting to retry. */
    t.timestamp('available_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['dead_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('http_dead_letters');
}
