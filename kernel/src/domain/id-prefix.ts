/**
 * Short ids, as operators copy them from tables: the first characters of a uuid (at
 * least 4 hex digits) name the one row whose id starts with them. An ambiguous prefix
 * is a conflict that lists the candidates; it never picks one.
 */
import type { Knex } from 'knex';
import { SproutError } from '../errors/index.ts';

const prefix = /^[0-9a-f]{4}[0-9a-f-]{0,31}$/i;

export function isIdPrefix(value: string): boolean {
  return prefix.test(value);
}

/** The rows (at most 6, ordered by id) of `table` whose id starts with `idPrefix`; `columns` are selected. */
export async function rowsByIdPrefix<T>(db: Knex | Knex.Transaction, table: string, idPrefix: string, columns: string[] = ['*']): Promise<T[]> {
  return db(table)
    .select(columns)
    .whereRaw('id::text like ?', [`${idPrefix.toLowerCase()}%`])
    .orderBy('id')
    .limit(6) as Promise<T[]>;
}

export function ambiguousPrefix(kind: string, idPrefix: string, candidates: string[]): SproutError {
  const shown = candidates.slice(0, 5);
  return new SproutError(
    'SPROUT_ERR_CONFLICT',
    `"${idPrefix}" is the start of several ${kind} ids (${shown.join(', ')}${candidates.length > 5 ? ', …' : ''}); give more of the id`,
    {
      details: [{ field: kind, message: `ambiguous id prefix; candidates: ${shown.join(', ')}` }],
    },
  );
}
