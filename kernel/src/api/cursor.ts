/**
 * The one cursor codec of every paginated list: a cursor is the last item's sort key,
 * as base64url JSON tagged with the list it belongs to. It comes back from clients, so
 * decoding trusts nothing: anything this API did not issue (garbage, another list's
 * cursor, text PostgreSQL cannot hold) is a 400 naming `cursor`, never a query.
 */
import Type from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SproutError } from '../errors/index.ts';
import { findUnstorableText } from './storable-text.ts';

/**
 * What each position of a list's sort key holds. A `timestamp` is UTC with microseconds,
 * `2026-12-06T04:13:17.123456Z` (PostgreSQL's precision: a millisecond Date would skip rows).
 */
export type CursorPart = 'text' | 'uuid' | 'id' | 'timestamp';
type PartValue<P extends CursorPart> = P extends 'id' ? number : string;
type Values<S extends readonly CursorPart[]> = { [K in keyof S]: S[K] extends CursorPart ? PartValue<S[K]> : never };

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const base64url = /^[A-Za-z0-9_-]+$/;
const timestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** A `timestamp` part PostgreSQL will read: the shape above and a real date (not February 30th). */
function isTimestamp(v: unknown): v is string {
  if (typeof v !== 'string' || !timestamp.test(v)) return false;
  const ms = `${v.slice(0, 23)}Z`;
  const parsed = Date.parse(ms);
  return !Number.isNaN(parsed) && new Date(parsed).toISOString() === ms;
}

/** The `cursor` query parameter, for a list's querystring schema. */
export const CursorParam = Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'The `nextCursor` of the previous page' }));

/**
 * For lists that return everything at once (a route's `preValidation`): a `cursor` is
 * refused rather than silently ignored, so a client that believes it is paging learns
 * that it is not. Other unknown parameters stay ignored, as they always were.
 */
export function refuseCursor(request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
  const query = request.query as Record<string, unknown> | undefined;
  if (query && Object.hasOwn(query, 'cursor')) {
    return done(
      new SproutError('SPROUT_ERR_VALIDATION', 'this list is not paginated: it returns every item at once, so it takes no cursor', {
        details: [{ field: 'querystring/cursor', message: 'this list takes no cursor' }],
      }),
    );
  }
  done();
}

export interface CursorCodec<S extends readonly CursorPart[]> {
  encode(...values: Values<S>): string;
  /** The sort key, or a SPROUT_ERR_VALIDATION naming `querystring/cursor`. */
  decode(cursor: string): Values<S>;
}

export function cursorCodec<const S extends readonly CursorPart[]>(list: string, shape: S): CursorCodec<S> {
  return {
    encode: (...values) => Buffer.from(JSON.stringify([list, ...values])).toString('base64url'),
    decode(cursor) {
      let parsed: unknown;
      try {
        parsed = base64url.test(cursor) ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) : undefined;
      } catch {
        parsed = undefined;
      }
      if (!Array.isArray(parsed) || parsed[0] !== list || parsed.length !== shape.length + 1) throw invalid(list);
      const values = parsed.slice(1);
      shape.forEach((part, i) => {
        const v = values[i];
        const ok =
          part === 'id'
            ? Number.isSafeInteger(v) && (v as number) > 0
            : part === 'timestamp'
              ? isTimestamp(v)
              : typeof v === 'string' && (part !== 'uuid' || uuid.test(v)) && findUnstorableText(v, '') === null;
        if (!ok) throw invalid(list);
      });
      return values as Values<S>;
    },
  };
}

function invalid(list: string): SproutError {
  return new SproutError(
    'SPROUT_ERR_VALIDATION',
    `cursor is not one this API issued for ${list}; start again without it, then pass each page's nextCursor as it is`,
    {
      details: [{ field: 'querystring/cursor', message: 'is not a cursor this API issued for this list' }],
    },
  );
}
