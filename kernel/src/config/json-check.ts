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

type Check = (value: unknown) => boolean;

/** Each schema object's compiled check: a document of thousands of entries is walked by closures, not by re-reading the schema's keywords at every value. */
const compiled = new WeakMap<object, Check>();

/** True only when `value` certainly satisfies `schema`; false when it does not or when unsure. */
export function certainlyValid(schema: JsonSchema, value: unknown): boolean {
  return checkOf(schema)(value);
}

function checkOf(schema: JsonSchema): Check {
  let check = compiled.get(schema);
  if (!check) {
    // Set before compiling its parts, so a schema that refers to itself finds its own check.
    let inner: Check = () => false;
    compiled.set(schema, (value) => inner(value));
    inner = compile(schema);
    compiled.set(schema, inner);
    check = inner;
  }
  return check;
}

/** Code points, as JSON Schema counts a string's length; counted only when the UTF-16 length cannot tell. */
function codePoints(value: string): number {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // a high surrogate followed by a low one is one code point
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
      const d = value.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

function compile(schema: JsonSchema): Check {
  const checks: Check[] = [];
  for (const [keyword, arg] of Object.entries(schema)) {
    switch (keyword) {
      case 'type':
        checks.push((value) => typeOk(arg, value));
        break;
      case 'const':
        if (arg !== null && typeof arg === 'object') return () => false;
        checks.push((value) => value === arg);
        break;
      case 'anyOf': {
        if (!Array.isArray(arg)) return () => false;
        const options = arg.map((s) => checkOf(s as JsonSchema));
        checks.push((value) => options.some((option) => option(value)));
        break;
      }
      case 'format':
        checks.push((value) => typeof value !== 'string' || formatOk(arg, value));
        break;
      case 'pattern': {
        const re = regex(arg as string);
        checks.push((value) => typeof value !== 'string' || re.test(value));
        break;
      }
      case 'minLength': {
        const min = arg as number;
        // code points ≥ ceil(units / 2) and ≤ units
        checks.push((value) => typeof value !== 'string' || (value.length >= min && (Math.ceil(value.length / 2) >= min || codePoints(value) >= min)));
        break;
      }
      case 'maxLength': {
        const max = arg as number;
        checks.push((value) => typeof value !== 'string' || value.length <= max || codePoints(value) <= max);
        break;
      }
      case 'minimum': {
        const min = arg as number;
        checks.push((value) => typeof value !== 'number' || value >= min);
        break;
      }
      case 'maximum': {
        const max = arg as number;
        checks.push((value) => typeof value !== 'number' || value <= max);
        break;
      }
      case 'items': {
        const item = checkOf(arg as JsonSchema);
        checks.push((value) => {
          if (!Array.isArray(value)) return true;
          for (let i = 0; i < value.length; i++) if (!item(value[i])) return false;
          return true;
        });
        break;
      }
      case 'minItems': {
        const min = arg as number;
        checks.push((value) => !Array.isArray(value) || value.length >= min);
        break;
      }
      case 'maxItems': {
        const max = arg as number;
        checks.push((value) => !Array.isArray(value) || value.length <= max);
        break;
      }
      case 'required': {
        const keys = arg as string[];
        checks.push((value) => !typeOk('object', value) || keys.every((key) => Object.hasOwn(value as object, key)));
        break;
      }
      case 'properties': {
        const properties = Object.entries(arg as Record<string, JsonSchema>).map(([key, sub]) => [key, checkOf(sub)] as const);
        checks.push((value) => {
          if (!typeOk('object', value)) return true;
          const object = value as Record<string, unknown>;
          for (const [key, sub] of properties) {
            if (key in object && !(Object.hasOwn(object, key) && sub(object[key]))) return false;
          }
          return true;
        });
        break;
      }
      case 'patternProperties': {
        const patterned = Object.entries(arg as Record<string, JsonSchema>).map(([pattern, sub]) => [regex(pattern), checkOf(sub)] as const);
        checks.push((value) => {
          if (!typeOk('object', value)) return true;
          for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
            for (const [re, sub] of patterned) if (re.test(key) && !sub(item)) return false;
          }
          return true;
        });
        break;
      }
      case 'additionalProperties': {
        if (arg !== false) return () => false;
        const known = new Set(Object.keys((schema.properties ?? {}) as object));
        const open = Object.keys((schema.patternProperties ?? {}) as object).map(regex);
        checks.push((value) => {
          if (!typeOk('object', value)) return true;
          for (const key in value as object) {
            if (!Object.hasOwn(value as object, key)) continue;
            if (!known.has(key) && !open.some((re) => re.test(key))) return false;
          }
          return true;
        });
        break;
      }
      default:
        if (!annotations.has(keyword)) return () => false;
    }
  }
  return (value) => {
    if (value === undefined) return false;
    for (let i = 0; i < checks.length; i++) if (!checks[i](value)) return false;
    return true;
  };
}
