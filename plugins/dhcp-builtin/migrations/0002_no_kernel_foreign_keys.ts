/**
 * The reservations name their site and network by id only: a plugin's table holds no
 * foreign key on the kernel's tables (docs/plugins.md, "Tables"). The rows the cascades
 * removed go in the `siteRemoving` and `networkRemoving` hooks instead, in the deleting
 * transaction. The primary key (site_id, mac) and the unique (network_id, address) stay
 * and index both ids.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table dhcp_reservations drop constraint if exists dhcp_reservations_site_id_foreign');
  await knex.raw('alter table dhcp_reservations drop constraint if exists dhcp_reservations_network_id_foreign');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('dhcp_reservations', (t) => {
    t.foreign('site_id').references('sites.id').onDelete('CASCADE');
    t.foreign('network_id').references('networks.id').onDelete('CASCADE');
  });
}
