/**
 * What `sprout config show` and logs may print of a config: every secret-looking value
 * and every password inside a URL is masked.
 */
const secretKey = /(token|password|secret|apikey|api_key|credential|key)$/i;

export function maskSecrets<T>(value: T): T {
  return mask(value, '') as T;
}

function mask(value: unknown, key: string): unknown {
  if (typeof value === 'string') {
    if (secretKey.test(key)) return '********';
    return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@/\s]*@/i, '$1:********@');
  }
  if (Array.isArray(value)) return value.map((v) => mask(v, key));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, k)]));
  }
  return value;
}
