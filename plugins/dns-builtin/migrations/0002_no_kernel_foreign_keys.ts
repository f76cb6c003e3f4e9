/**
 * The records name their site by id only: a plugin's table holds no foreign key on the
 * kernel's tables (docs/plugins.md, "Tables"). The rows the cascade removed go in the
 * `siteRemoving` hook instead, in the deleting transaction. The primary key starts with
 * site_id and indexes it.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table dns_records drop constraint if exists dns_records_site_id_foreign');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('dns_records', (t) => {
    t.foreign('site_id').references('sites.id').onDelete('CASCADE');
  });
}
