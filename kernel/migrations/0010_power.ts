/**
 * Power: a machine's BMC password (or Redfish token) sealed with AES-256-GCM apart from
 * the `bmc` JSON every route shows, and the power state its site last read from the BMC
 * (the periodic poll, a power command or a workflow's power step) with when and why not.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('machines', (t) => {
    t.text('bmc_secret');
    t.text('power_state');
    t.timestamp('power_checked_at', { useTz: true });
    t.text('power_error');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('machines', (t) => {
    t.dropColumn('bmc_secret');
    t.dropColumn('power_state');
    t.dropColumn('power_checked_at');
    t.dropColumn('power_error');
  });
}
