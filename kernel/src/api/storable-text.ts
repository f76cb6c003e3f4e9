/**
 * PostgreSQL text and jsonb cannot hold NUL characters or unpaired UTF-16 surrogates,
 * though JSON and URLs can carry them. Refusing them up front, naming the field, keeps
 * them from surfacing as a 500 (or an unwritable audit record) deep inside a handler.
 */
import { SproutError } from '../errors/index.ts';

// A NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one.
const unstorable = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const unstorableAll = new RegExp(unstorable.source, 'g');

/** The text with every unstorable character written as a `\uXXXX` escape: safe to echo in a problem or audit record. */
export function printable(text: string): string {
  return text.replace(unstorableAll, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The path (`body/labels/k`) of the first string or key that PostgreSQL cannot store, or null. */
export function findUnstorableText(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === 'string') return unstorable.test(value) ? path : null;
  if (value === null || typeof value !== 'object' || depth > 64) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], `${path}/${i}`, depth + 1);
      if (found) return found;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    if (unstorable.test(key)) return `${path}/${key}`;
    const found = findUnstorableText(item, `${path}/${key}`, depth + 1);
    if (found) return found;
  }
  return null;
}

/** Throws a 400 naming the first field of the request that holds unstorable text. */
export function refuseUnstorableText(parts: { body?: unknown; params?: unknown; query?: unknown }): void {
  for (const [name, value] of Object.entries(parts)) {
    const field = findUnstorableText(value, name);
    if (field) {
      const shown = printable(field);
      throw new SproutError('SPROUT_ERR_VALIDATION', `${name} is invalid: ${shown} must not contain NUL characters or unpaired UTF-16 surrogates`, {
        details: [{ field: shown, message: 'must not contain NUL characters or unpaired UTF-16 surrogates' }],
      });
    }
  }
}
