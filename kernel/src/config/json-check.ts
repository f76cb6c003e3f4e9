/**
 * A small JSON Schema checker for the agent's hot path, without TypeBox: it answers
 * "certainly valid" for the subset of keywords Sprout's agent contracts use (the
 * desired state, report payloads). Anything it is unsure of (an unknown keyword or
 * format, an explicit `undefined`, a leap second) counts as not certain, and the caller
 * asks TypeBox, which then decides and names the problems. So it may be stricter than
 * TypeBox, never more lenient: kernel/test/agent-contract.test.ts holds it to that.
 */
export type JsonSchema = Readonly<Record<string, unknown>>;

const annotations = new Set(['description', 'title', 'default', 'examples', '$comment']);
const uuid = /^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;
const ipv4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const dateTime = /^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[Zz]|[+-](\d\d):(\d\d))$/;
const patterns = new Map<string, RegExp>();

function formatOk(format: unknown, value: string): boolean {
  if (format === 'uuid') return uuid.test(value);
  if (format === 'ipv4') return ipv4.test(value);
  if (format === 'date-time') {
    const m = dateTime.exec(value);
    if (!m) return false;
    const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
    const days = new Date(Date.UTC(year, month, 0)).getUTCDate(); // days of that month
    return (
      month >= 1 &&
      month <= 12 &&
      day >= 1 &&
      day <= days &&
      hour <= 23 &&
      minute <= 59 &&
      second <= 59 &&
      (m[7] === undefined || (Number(m[7]) <= 23 && Number(m[8]) <= 59))
    );
  }
  return false;
}

function regex(source: string): RegExp {
  let re = patterns.get(source);
  if (!re) patterns.set(source, (re = new RegExp(source, 'u')));
  return re;
}

function typeOk(type: unknown, value: unknown): boolean {
  switch (type) {
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    default:
      return false;
  }
}

/** True only when `value` certainly satisfies `schema`; false when it does not or when unsure. */
export function certainlyValid(schema: JsonSchema, value: unknown): boolean {
  if (value === undefined) return false;
  for (const [keyword, arg] of Object.entries(schema)) {
    switch (keyword) {
      case 'type':
        if (!typeOk(arg, value)) return false;
        break;
      case 'const':
        if ((arg !== null && typeof arg === 'object') || value !== arg) return false;
        break;
      case 'anyOf':
        if (!Array.isArray(arg) || !arg.some((s) => certainlyValid(s as JsonSchema, value))) return false;
        break;
      case 'format':
        if (typeof value === 'string' && !formatOk(arg, value)) return false;
        break;
      case 'pattern':
        if (typeof value === 'string' && !regex(arg as string).test(value)) return false;
        break;
      case 'minLength':
      case 'maxLength': {
        if (typeof value !== 'string') break;
        const length = [...value].length; // code points, as JSON Schema counts
        if (keyword === 'minLength' ? length < (arg as number) : length > (arg as number)) return false;
        break;
      }
      case 'minimum':
        if (typeof value === 'number' && !(value >= (arg as number))) return false;
        break;
      case 'maximum':
        if (typeof value === 'number' && !(value <= (arg as number))) return false;
        break;
      case 'items':
        if (Array.isArray(value) && !value.every((item) => certainlyValid(arg as JsonSchema, item))) return false;
        break;
      case 'minItems':
        if (Array.isArray(value) && value.length < (arg as number)) return false;
        break;
      case 'maxItems':
        if (Array.isArray(value) && value.length > (arg as number)) return false;
        break;
      case 'required':
        if (typeOk('object', value) && !(arg as string[]).every((key) => Object.hasOwn(value as object, key))) return false;
        break;
      case 'properties':
        if (!typeOk('object', value)) break;
        for (const [key, sub] of Object.entries(arg as Record<string, JsonSchema>)) {
          if (key in (value as object) && !(Object.hasOwn(value as object, key) && certainlyValid(sub, (value as Record<string, unknown>)[key]))) return false;
        }
        break;
      case 'patternProperties':
        if (!typeOk('object', value)) break;
        for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
          for (const [pattern, sub] of Object.entries(arg as Record<string, JsonSchema>)) {
            if (regex(pattern).test(key) && !certainlyValid(sub, item)) return false;
          }
        }
        break;
      case 'additionalProperties': {
        if (arg !== false) return false;
        if (!typeOk('object', value)) break;
        const known = Object.keys((schema.properties ?? {}) as object);
        const open = Object.keys((schema.patternProperties ?? {}) as object).map(regex);
        if (Object.keys(value as object).some((key) => !known.includes(key) && !open.some((re) => re.test(key)))) return false;
        break;
      }
      default:
        if (!annotations.has(keyword)) return false;
    }
  }
  return true;
}
