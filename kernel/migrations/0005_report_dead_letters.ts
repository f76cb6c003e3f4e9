/**
 * Agents' reports the control plane will not apply: malformed ones, and ones that kept
 * failing when applied. Each is kept with its reason so an operator can see what an
 * agent said and why it was set aside; the agent's later reports flow on. Ids are text:
 * a malformed report's agent id need not be a UUID. The agent row counts what was set
 * aside and keeps the last reason, for `sprout site show`.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('report_dead_letters', (t) => {
    t.bigIncrements('id').primary();
    t.text('agent_id').notNullable();
    t.text('site_id');
    t.bigInteger('sequence');
    t.text('kind');
    t.jsonb('report').notNullable();
    t.text('reason').notNullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['site_id', 'at']);
  });
  await knex.schema.alterTable('agents', (t) => {
    t.integer('dead_lettered_reports').notNullable().defaultTo(0);
    t.integer('refused_reports').notNullable().defaultTo(0);
    t.text('last_report_problem');
    t.timestamp('last_report_problem_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('agents', (t) => {
    t.dropColumn('dead_lettered_reports');
    t.dropColumn('refused_reports');
    t.dropColumn('last_report_problem');
    t.dropColumn('last_report_problem_at');
  });
  await knex.schema.dropTable('report_dead_letters');
}
