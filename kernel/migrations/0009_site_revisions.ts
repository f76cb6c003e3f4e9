/**
 * A site's desired state has a revision: bumped in the same transaction as every change
 * that affects what the site's agents serve, so agents can ask "anything newer than N?"
 * and an operator can see how far behind each agent is. Each agent row keeps the
 * revision its agent says it serves and why it refused a newer one, if it did.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sites', (t) => {
    t.bigInteger('desired_revision').notNullable().defaultTo(0);
  });
  await knex.schema.alterTable('agents', (t) => {
    t.bigInteger('desired_revision');
    t.text('desired_state_error');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('agents', (t) => {
    t.dropColumn('desired_revision');
    t.dropColumn('desired_state_error');
  });
  await knex.schema.alterTable('sites', (t) => {
    t.dropColumn('desired_revision');
  });
}
