/**
 * The builtin IPAM's own table: one row per allocated address. The unique
 * (network_id, address) pair is the last line of defence behind the per-network lock:
 * whatever happens above it, one address is never handed out twice in one network.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('ip_allocations', (t) => {
    t.uuid('id').primary();
    t.uuid('network_id').notNullable().references('networks.id').onDelete('CASCADE');
    t.specificType('address', 'inet').notNullable();
    // A deleted machine gives its addresses back.
    t.uuid('machine_id').references('machines.id').onDelete('CASCADE');
    t.uuid('interface_id').references('interfaces.id').onDelete('SET NULL');
    t.string('hostname', 253);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['network_id', 'address']);
    t.index(['machine_id']);
  });
  await knex.raw('alter table ip_allocations add constraint ip_allocations_ipv4_host check (family(address) = 4 and masklen(address) = 32)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('ip_allocations');
}
