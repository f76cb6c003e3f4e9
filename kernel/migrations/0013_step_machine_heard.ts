/**
 * When the machine a site step works on was last heard from (an installer's log line or
 * result, a hardware test's result, the installed OS's callback), as the agent stamped it:
 * a machine that died during install shows "last heard 9 min ago" long before the step's
 * watchdog ends it.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('workflow_steps', (t) => {
    t.timestamp('machine_heard_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('workflow_steps', (t) => {
    t.dropColumn('machine_heard_at');
  });
}
