/**
 * Power requests: each power command an operator gives (status, on, off, cycle) and each
 * site's periodic power poll, with the outbox row that carried it to the site's agent and
 * what the agent answered. The command's route waits on its row, so the answer reaches it
 * whichever control plane applied the agent's report. At most one poll per site is
 * pending at a time (a partial unique index), so with several control planes only one
 * queues it.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('power_requests', (t) => {
    t.uuid('id').primary();
    t.uuid('machine_id').references('machines.id').onDelete('CASCADE');
    t.uuid('site_id').notNullable().references('sites.id').onDelete('CASCADE');
    t.string('action', 16).notNullable();
    t.boolean('soft').notNullable().defaultTo(false);
    t.string('state', 16).notNullable().defaultTo('pending');
    t.jsonb('result');
    t.text('error');
    t.string('requested_by', 256).notNullable();
    t.bigInteger('outbox_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
    t.index(['outbox_id']);
    t.index(['machine_id', 'created_at']);
  });
  await knex.raw(`create unique index power_requests_one_pending_poll on power_requests (site_id) where action = 'poll' and state = 'pending'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('power_requests');
}
