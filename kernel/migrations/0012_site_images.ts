/**
 * Each site's image store as its agent reports it: one row per image file in the agent's
 * `<artifactRoot>/images/` (name, size, sha256 once known, format), replaced by every
 * heartbeat that carries the list; `sites.images_reported_at` says when the site last
 * reported (null: never, so a deploy by name cannot be checked and is refused). Operator
 * imports and removals are `image_requests`, each carried to the agent by an outbox row
 * and settled by the agent's task report, like power requests.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('site_images', (t) => {
    t.uuid('site_id').notNullable().references('sites.id').onDelete('CASCADE');
    t.string('name', 128).notNullable();
    t.bigInteger('size').notNullable();
    t.string('sha256', 64);
    t.string('format', 16);
    t.timestamp('seen_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('changed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['site_id', 'name']);
  });
  await knex.schema.alterTable('sites', (t) => {
    t.timestamp('images_reported_at', { useTz: true });
  });
  await knex.schema.createTable('image_requests', (t) => {
    t.uuid('id').primary();
    t.uuid('site_id').notNullable().references('sites.id').onDelete('CASCADE');
    t.string('action', 16).notNullable();
    t.string('name', 128).notNullable();
    t.jsonb('source');
    t.string('state', 16).notNullable().defaultTo('pending');
    t.jsonb('result');
    t.text('error');
    t.string('requested_by', 256).notNullable();
    t.bigInteger('outbox_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
    t.index(['outbox_id']);
    t.index(['site_id', 'name', 'state']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('image_requests');
  await knex.schema.alterTable('sites', (t) => t.dropColumn('images_reported_at'));
  await knex.schema.dropTable('site_images');
}
