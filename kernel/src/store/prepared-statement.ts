/**
 * Reads on every request's path, run as named prepared statements: PostgreSQL parses
 * and plans each once per connection instead of on every call, and the query goes
 * straight to a pooled connection, without knex building SQL and rewriting bindings
 * each time (on a single-row read that costs more than the query). `text` uses $1…
 * placeholders and must be the same text whenever `name` is used. It runs on `db`'s
 * pool, or inside its transaction when `db` is one; PGlite runs it unnamed.
 */
import type { Knex } from 'knex';
import pg from 'pg';

interface PooledClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<void>;
}

interface SimpleConnection {
  query(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

export async function preparedRows<T>(db: Knex | Knex.Transaction, name: string, text: string, values: unknown[]): Promise<T[]> {
  const client = db.client as PooledClient;
  const connection = await client.acquireConnection();
  try {
    const result =
      connection instanceof pg.Client ? await connection.query({ name, text, values }) : await (connection as SimpleConnection).query(text, values);
    return result.rows as T[];
  } finally {
    await client.releaseConnection(connection);
  }
}
