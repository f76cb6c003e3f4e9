/**
 * Listing a site's machines by status (`GET /v1/machines?site&status`, ordered by
 * hostname) walks this index in order and stops at the end of the page, instead of
 * walking every machine of the site and filtering out the other states.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('machines', (t) => {
    t.index(['site_id', 'status', 'hostname']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('machines', (t) => {
    t.dropIndex(['site_id', 'status', 'hostname']);
  });
}
