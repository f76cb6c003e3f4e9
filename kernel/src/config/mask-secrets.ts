/**
 * What may be printed or logged of a config, a URL or a message that embeds URLs: every
 * secret-looking value, every password or token inside a URL (userinfo and query) is
 * masked. One function for all of them, so `config show`, logs and errors agree.
 * Dependency-free on purpose: the CLI SDK loads it.
 */
export const secretMask = '********';

const secretKey = /(token|password|secret|apikey|api_key|credential|key)$/i;

/**
 * Query parameters that carry a secret: libpq's `password`, `sslpassword`, `sslkey`,
 * and the usual `pass`, `pwd`, `token`, `secret`, `api_key`, `access_key`, `auth`…
 */
const secretParam = /pass|pwd|token|secret|key|credential|auth|signature/i;

/** Schemes whose lone userinfo is a role name (kept: it helps an operator), not a token. */
const userIsRole = new Set(['postgres', 'postgresql']);

/** A URL inside a text: it ends at whitespace, a quote, or where the next URL of a comma-separated list starts. */
const urlInText = /\b([a-z][a-z0-9+.-]*):\/\/([^\s"'<>]*?)(?=,\s*[a-z][a-z0-9+.-]*:\/\/|[\s"'<>]|$)/gi;

/** A config (or any value) with secret keys masked and every URL in a string masked. */
export function maskSecrets<T>(value: T): T {
  return mask(value, '') as T;
}

/**
 * `text` with every URL in it masked: a password (`user:pw@`) or a token (`token@`,
 * except a PostgreSQL role) in the userinfo, and secret query parameters
 * (`?password=…`). Works on one URL, a comma-separated list of them (a broker cluster),
 * or a message that mentions URLs; the host, port, path and other parameters stay.
 */
export function maskUrls(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(urlInText, (_match, scheme: string, rest: string) => `${scheme}://${maskAfterScheme(scheme.toLowerCase(), rest)}`);
}

function maskAfterScheme(scheme: string, rest: string): string {
  const authorityEnd = rest.search(/[/?#]/);
  let authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  let tail = rest.slice(authority.length);
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    const shown = colon >= 0 ? `${userinfo.slice(0, colon)}:${secretMask}` : userIsRole.has(scheme) ? userinfo : secretMask;
    authority = `${shown}${authority.slice(at)}`;
  }
  const query = tail.indexOf('?');
  if (query >= 0) {
    const fragment = tail.indexOf('#', query);
    const end = fragment < 0 ? tail.length : fragment;
    const params = tail
      .slice(query + 1, end)
      .replace(/(^|[&;])([^=&;]*)=([^&;]*)/g, (whole, sep: string, name: string) =>
        secretParam.test(safeDecode(name)) ? `${sep}${name}=${secretMask}` : whole,
      );
    tail = `${tail.slice(0, query + 1)}${params}${tail.slice(end)}`;
  }
  return `${authority}${tail}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

function mask(value: unknown, key: string): unknown {
  if (typeof value === 'string') {
    if (secretKey.test(key)) return secretMask;
    return maskUrls(value);
  }
  if (Array.isArray(value)) return value.map((v) => mask(v, key));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, k)]));
  }
  return value;
}
