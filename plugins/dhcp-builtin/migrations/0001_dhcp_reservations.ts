/**
 * The builtin DHCP provider's reservations: one per MAC in a site, which the site
 * agent's DHCPv4 server honours. An address is held by at most one MAC per network.
 * Owned by this plugin; the kernel never writes it.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('dhcp_reservations', (t) => {
    t.uuid('site_id').notNullable().references('sites.id').onDelete('CASCADE');
    /** Lowercase, colon-separated: `aa:bb:cc:dd:ee:ff`. */
    t.string('mac', 17).notNullable();
    t.uuid('network_id').notNullable().references('networks.id').onDelete('CASCADE');
    t.specificType('address', 'inet').notNullable();
    t.string('hostname', 63);
    t.boolean('netboot').notNullable().defaultTo(false);
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['site_id', 'mac']);
    t.unique(['network_id', 'address'], { indexName: 'dhcp_reservations_address_unique' });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('dhcp_reservations');
}
