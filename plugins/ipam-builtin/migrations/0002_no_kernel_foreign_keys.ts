/**
 * Allocations name their network, machine and interface by id only: a plugin's table
 * holds no foreign key on the kernel's tables (docs/plugins.md, "Tables"). What the
 * cascades did happens in hooks, in the deleting transaction: `machineRemoving` drops a
 * deleted machine's allocations (its interfaces go with it), `networkRemoving` those of
 * a deleted network (the kernel refuses to delete one that has any). The unique
 * (network_id, address) and the machine_id index stay.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  for (const column of ['network_id', 'machine_id', 'interface_id']) {
    await knex.raw(`alter table ip_allocations drop constraint if exists ip_allocations_${column}_foreign`);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('ip_allocations', (t) => {
    t.foreign('network_id').references('networks.id').onDelete('CASCADE');
    t.foreign('machine_id').references('machines.id').onDelete('CASCADE');
    t.foreign('interface_id').references('interfaces.id').onDelete('SET NULL');
  });
}
