/**
 * The control plane's model: sites and their agents, machines with interfaces and
 * lifecycle history, provisioning networks, workflows with steps, the outbox that
 * hands site steps to the transport, and boot intents. Kernel-owned: plugins read
 * these tables but keep their own rows (allocations, reservations…) in their own.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sites', (t) => {
    t.uuid('id').primary();
    t.string('name', 63).notNullable().unique();
    t.text('description').notNullable().defaultTo('');
    t.jsonb('labels').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('join_tokens', (t) => {
    t.uuid('id').primary();
    t.uuid('site_id').notNullable().references('sites.id').onDelete('CASCADE');
    t.string('secret_hash', 64).notNullable().unique();
    t.string('created_by', 256).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
    t.uuid('used_by_agent');
  });

  await knex.schema.createTable('agents', (t) => {
    t.uuid('id').primary();
    t.uuid('site_id').notNullable().references('sites.id').onDelete('CASCADE');
    t.string('hostname', 255).notNullable();
    t.string('version', 64).notNullable().defaultTo('');
    t.jsonb('capabilities').notNullable().defaultTo('[]');
    t.jsonb('services').notNullable().defaultTo('{}');
    t.string('credential_hash', 64).notNullable().unique();
    t.timestamp('registered_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_heartbeat_at', { useTz: true });
    t.bigInteger('last_report_sequence').notNullable().defaultTo(0);
    t.index(['site_id']);
  });

  await knex.schema.createTable('machines', (t) => {
    t.uuid('id').primary();
    t.uuid('site_id').notNullable().references('sites.id');
    t.string('hostname', 63).notNullable();
    t.string('arch', 16).notNullable();
    t.string('boot_mode', 8).notNullable();
    t.jsonb('tags').notNullable().defaultTo('[]');
    t.jsonb('bmc');
    t.jsonb('expected').notNullable().defaultTo('{}');
    t.jsonb('hardware').notNullable().defaultTo('{}');
    t.string('owner', 256);
    t.string('status', 32).notNullable().defaultTo('new');
    t.jsonb('status_reason');
    t.timestamp('status_changed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    /** When an in-progress state's watchdog fires. */
    t.timestamp('status_deadline', { useTz: true });
    t.uuid('current_workflow_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['site_id', 'hostname']);
    t.index(['status']);
    t.index(['status_deadline']);
  });

  await knex.schema.createTable('interfaces', (t) => {
    t.uuid('id').primary();
    t.uuid('machine_id').notNullable().references('machines.id').onDelete('CASCADE');
    t.string('mac', 17).notNullable().unique();
    t.string('name', 32).notNullable();
    t.boolean('pxe').notNullable().defaultTo(false);
    t.index(['machine_id']);
  });

  await knex.schema.createTable('machine_events', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('machine_id').notNullable().references('machines.id').onDelete('CASCADE');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.string('action', 64).notNullable();
    t.string('from_status', 32);
    t.string('to_status', 32).notNullable();
    t.jsonb('reason');
    t.string('actor', 256).notNullable();
    t.uuid('workflow_id');
    t.index(['machine_id', 'id']);
  });

  await knex.schema.createTable('networks', (t) => {
    t.uuid('id').primary();
    t.uuid('site_id').notNullable().references('sites.id');
    t.string('name', 63).notNullable();
    t.specificType('cidr', 'cidr').notNullable();
    t.specificType('gateway', 'inet').notNullable();
    t.jsonb('dns_servers').notNullable().defaultTo('[]');
    t.string('domain', 253);
    t.integer('vlan');
    t.boolean('pxe').notNullable().defaultTo(true);
    t.jsonb('ranges').notNullable().defaultTo('[]');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['site_id', 'name']);
  });

  await knex.schema.createTable('workflows', (t) => {
    t.uuid('id').primary();
    t.string('kind', 32).notNullable();
    t.uuid('machine_id').references('machines.id').onDelete('SET NULL');
    t.uuid('site_id').notNullable().references('sites.id');
    t.string('state', 16).notNullable().defaultTo('pending');
    t.jsonb('params').notNullable().defaultTo('{}');
    /** Machine status to return to when the workflow is cancelled. */
    t.string('machine_from_status', 32);
    t.text('error');
    t.boolean('cancel_requested').notNullable().defaultTo(false);
    t.string('created_by', 256).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
    t.index(['machine_id']);
    t.index(['state']);
  });

  await knex.schema.createTable('workflow_steps', (t) => {
    t.uuid('id').primary();
    t.uuid('workflow_id').notNullable().references('workflows.id').onDelete('CASCADE');
    t.integer('position').notNullable();
    t.string('name', 64).notNullable();
    t.string('kind', 8).notNullable();
    t.string('state', 16).notNullable().defaultTo('pending');
    t.integer('attempt').notNullable().defaultTo(0);
    t.integer('max_attempts').notNullable().defaultTo(3);
    t.integer('timeout_ms').notNullable();
    t.string('idempotency_key', 128).notNullable().unique();
    t.timestamp('started_at', { useTz: true });
    t.timestamp('finished_at', { useTz: true });
    t.text('error');
    t.text('waiting_for');
    t.jsonb('log_tail').notNullable().defaultTo('[]');
    t.jsonb('result');
    t.unique(['workflow_id', 'position']);
  });

  await knex.schema.createTable('outbox', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('site_id').notNullable().references('sites.id');
    t.string('kind', 64).notNullable();
    t.uuid('workflow_id');
    t.uuid('step_id');
    t.jsonb('payload').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('dispatched_at', { useTz: true });
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error');
    t.index(['dispatched_at', 'id']);
  });

  await knex.schema.createTable('boot_intents', (t) => {
    t.uuid('machine_id').primary().references('machines.id').onDelete('CASCADE');
    t.string('intent', 16).notNullable();
    t.jsonb('params').notNullable().defaultTo('{}');
    t.string('boot_token_hash', 64);
    t.uuid('workflow_id');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('hardware_test_results', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('machine_id').notNullable().references('machines.id').onDelete('CASCADE');
    t.uuid('workflow_id');
    t.string('name', 64).notNullable();
    t.string('status', 16).notNullable();
    t.integer('duration_ms').notNullable().defaultTo(0);
    t.text('output').notNullable().defaultTo('');
    t.jsonb('facts');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['machine_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'hardware_test_results',
    'boot_intents',
    'outbox',
    'workflow_steps',
    'workflows',
    'networks',
    'machine_events',
    'interfaces',
    'machines',
    'agents',
    'join_tokens',
    'sites',
  ]) {
    await knex.schema.dropTable(table);
  }
}
