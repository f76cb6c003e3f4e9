/**
 * Reports agents posted, held until a control-plane instance's report handler has taken
 * each one: the HTTP transport's durable inbox, so a POST succeeds while no handler runs.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('http_report_inbox', (t) => {
    t.uuid('agent_id').notNullable();
    t.bigInteger('sequence').notNullable();
    t.jsonb('report').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    /** Not handed to a handler before then: claimed by an instance, or waiting to retry. */
    t.timestamp('available_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['agent_id', 'sequence']);
    t.index(['received_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('http_report_inbox');
}
