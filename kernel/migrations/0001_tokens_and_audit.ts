/** API tokens (stored as hashes only) and the audit trail. */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_tokens', (t) => {
    t.uuid('id').primary();
    t.string('name', 128).notNullable().unique();
    t.string('role', 16).notNullable();
    t.string('secret_hash', 64).notNullable().unique();
    t.string('created_by', 256).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true });
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
  });
  await knex.schema.raw(`alter table api_tokens add constraint api_tokens_role check (role in ('viewer','operator','admin'))`);

  await knex.schema.createTable('audit_records', (t) => {
    t.bigIncrements('id').primary();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.string('actor', 256).notNullable();
    t.string('actor_role', 16);
    t.string('action', 128).notNullable();
    t.string('target_type', 64);
    t.string('target_id', 256);
    t.string('request_id', 128);
    t.string('source_address', 64);
    t.string('outcome', 16).notNullable();
    t.jsonb('details').notNullable().defaultTo('{}');
    t.index(['actor']);
    t.index(['action']);
    t.index(['target_type', 'target_id']);
    t.index(['at']);
  });
  await knex.schema.raw(`alter table audit_records add constraint audit_outcome check (outcome in ('success','denied','failed'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_records');
  await knex.schema.dropTable('api_tokens');
}
