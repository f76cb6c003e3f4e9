/** What agents observe at their site: MACs nobody registered, and DHCP leases. */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('discovered_macs', (t) => {
    t.uuid('site_id').notNullable().references('sites.id').onDelete('CASCADE');
    t.string('mac', 17).notNullable();
    t.uuid('network_id');
    t.string('offered', 45);
    t.integer('times_seen').notNullable().defaultTo(1);
    t.timestamp('first_seen_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_seen_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['site_id', 'mac']);
  });
  await knex.schema.createTable('dhcp_leases', (t) => {
    t.uuid('site_id').notNullable().references('sites.id').onDelete('CASCADE');
    t.string('mac', 17).notNullable();
    t.string('address', 45).notNullable();
    t.string('state', 16).notNullable();
    t.timestamp('expires_at', { useTz: true });
    t.string('client_uuid', 64);
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['site_id', 'mac']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('dhcp_leases');
  await knex.schema.dropTable('discovered_macs');
}
