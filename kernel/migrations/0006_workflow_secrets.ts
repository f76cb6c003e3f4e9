/**
 * Secret workflow params (deploy user-data) get a table of their own, read only by the
 * operators' route and by the dispatch of the workflow's work to its site, never by the
 * views every viewer reads. Existing rows move: the value leaves the workflow's params
 * and its boot intent, and an audit record keeps only its sha256 and size (for good:
 * `down` puts the value back into the params but cannot restore the audit details).
 */
import type { Knex } from 'knex';

/** The secret params declared when this migration was written (kernel: workflows/definitions.ts). */
const secretParams = ['userData'];

const sha256Of = (text: string) => `encode(sha256(convert_to(${text}, 'UTF8')), 'hex')`;
const sizeOf = (text: string) => `octet_length(convert_to(${text}, 'UTF8'))`;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('workflow_secrets', (t) => {
    t.uuid('workflow_id').notNullable().references('workflows.id').onDelete('CASCADE');
    t.string('name', 64).notNullable();
    t.text('value').notNullable();
    t.string('sha256', 64).notNullable();
    t.integer('size').notNullable();
    t.primary(['workflow_id', 'name']);
  });
  for (const name of secretParams) {
    await knex.raw(
      `insert into workflow_secrets (workflow_id, name, value, sha256, size)
       select id, ?::text, params->>?::text, ${sha256Of('params->>?::text')}, ${sizeOf('params->>?::text')} from workflows where params->>?::text is not null`,
      [name, name, name, name, name],
    );
    await knex.raw(`update workflows set params = params - ?::text where params->?::text is not null`, [name, name]);
    await knex.raw(`update boot_intents set params = params - ?::text where params->?::text is not null`, [name, name]);
    await knex.raw(
      `update audit_records set details = (details - ?::text) || jsonb_build_object(?::text, jsonb_build_object('sha256', ${sha256Of('details->>?::text')}, 'size', ${sizeOf('details->>?::text')}))
       where jsonb_typeof(details->?::text) = 'string'`,
      [name, name, name, name, name],
    );
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`update workflows w set params = w.params || jsonb_build_object(s.name, s.value) from workflow_secrets s where s.workflow_id = w.id`);
  await knex.schema.dropTable('workflow_secrets');
}
