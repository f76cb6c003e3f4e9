/**
 * Work is leased straight from the kernel's outbox (kernel migration 0014 carried the
 * lease state of these tables' items over) and reports are applied while the agent's POST
 * waits: the transport's own queue, report inbox and dead-letter inbox go.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('http_dead_letters');
  await knex.schema.dropTableIfExists('http_report_inbox');
  await knex.schema.dropTableIfExists('http_work_items');
}

export async function down(knex: Knex): Promise<void> {
  const earlier = ['0001_http_work_items', '0002_http_report_inbox', '0003_http_dead_letters'];
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  for (const name of earlier) await (await import(new URL(`./${name}${extension}`, import.meta.url).href)).up(knex);
}
