/**
 * Hostile REST input, property-based: for every route that takes a JSON body, bodies
 * generated from the route's own schema (from the OpenAPI document) with wrong types,
 * missing and extra fields, unicode, NUL bytes, lone surrogates, SQL and path
 * metacharacters and long strings. The answer is always a 2xx or a 4xx problem+json,
 * never a 500, and whatever was stored reads back intact. The seed is printed; set
 * SPROUT_FUZZ_SEED to replay a run.
 */
import test from 'ava';
import fc from 'fast-check';
import { startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { createMachine, siteWithNetwork } from '@sprout/test-support/control-plane.ts';

const seed = Number(process.env.SPROUT_FUZZ_SEED ?? Date.now() % 2 ** 31);
const runsPerRoute = Number(process.env.SPROUT_FUZZ_RUNS ?? 40);

const nasty = [
  "'; DROP TABLE machines; --",
  "' OR '1'='1",
  '"; select pg_sleep(10); --',
  '$1',
  '%',
  '_',
  '\\',
  '../../../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '/etc/shadow',
  'C:\\Windows\\system32',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\u202e\u0041',
  '\ufeff',
  '😀🌱',
  'ｓｉｔｅ',
  '<script>alert(1)</script>',
  '${jndi:ldap://127.0.0.1/a}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  ' ',
  '',
  'x'.repeat(70_000),
  '9'.repeat(400),
];

const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...nasty) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...nasty), fc.string({ maxLength: 10 })).map(([a, b]) => a + b) },
);

const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, -0, 2 ** 31, 2 ** 53 + 1, 1e308, -1e308, 4095, 65537, Number.MIN_VALUE),
);

const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString,
    hostileNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** A value the schema might accept, or nearly: literals from unions, numbers at and past the bounds, strings of any kind. */
function fromSchema(schema: any, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 4) return hostileValue;
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const choices = schema.anyOf ?? schema.oneOf;
  if (choices) return fc.oneof(...choices.map((s: any) => fromSchema(s, depth + 1)));
  switch (schema.type) {
    case 'string':
      return fc.oneof(
        hostileString,
        fc.constantFrom(
          'x86_64',
          'bios',
          'dynamic',
          '198.18.0.1',
          '198.18.0.0/24',
          'aa:bb:cc:dd:ee:ff',
          '2026-11-26T00:00:00Z',
          'fz-site',
          'a'.repeat(schema.maxLength ?? 64),
          'a'.repeat((schema.maxLength ?? 64) + 1),
        ),
      );
    case 'integer':
    case 'number':
      return fc.oneof(hostileNumber, fc.constantFrom(schema.minimum ?? 0, (schema.minimum ?? 0) - 1, schema.maximum ?? 1, (schema.maximum ?? 1) + 1));
    case 'boolean':
      return fc.oneof(fc.boolean(), hostileValue);
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(fromSchema(schema.items, depth + 1), { maxLength: 5 });
    case 'object':
      return objectFrom(schema, depth);
    default:
      return hostileValue;
  }
}

/** Each known field: absent, schema-shaped, or anything at all; plus sometimes extra fields. */
function objectFrom(schema: any, depth: number): fc.Arbitrary<unknown> {
  const props = Object.entries<any>(schema.properties ?? {});
  const fields = props.map(([name, s]) =>
    fc
      .oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 4, arbitrary: fromSchema(s, depth + 1) }, { weight: 1, arbitrary: hostileValue })
      .map((v) => [name, v] as const),
  );
  const extra =
    schema.additionalProperties && typeof schema.additionalProperties === 'object'
      ? fc.dictionary(hostileString, fromSchema(schema.additionalProperties, depth + 1), { maxKeys: 3 })
      : fc.oneof(fc.constant({}), fc.constant({}), fc.dictionary(hostileString, hostileValue, { maxKeys: 2 }));
  return fc.tuple(fc.tuple(...fields), extra).map(([pairs, more]) => {
    const out: Record<string, unknown> = Object.create(null);
    for (const [k, v] of Object.entries(more as object)) out[k] = v;
    for (const [k, v] of pairs) if (v !== undefined) out[k] = v;
    return { ...out };
  });
}

/** A body: schema-shaped mostly, sometimes not an object at all. */
const bodyFor = (schema: any) => fc.oneof({ weight: 8, arbitrary: fromSchema(schema) }, { weight: 1, arbitrary: hostileValue });

const rawBodies = [
  '',
  '{',
  '{"a":',
  'null',
  '[]',
  '1',
  '"x"',
  'true',
  '{"__proto__":{"admin":true}}',
  '{"a":1,"a":2}',
  '\u0000',
  '{"name":"\\ud800"}',
  '{"name":"\\u0000"}',
  '['.repeat(5000),
  '{"x":' + '['.repeat(3000) + ']'.repeat(3000) + '}',
  'NaN',
  '{"n":1e999}',
];

let h: Harness;
let agentCredential = '';
let ids: Record<string, string> = {};

test.before(async () => {
  h = await startHarness('postgres');
  const { joinToken, site } = await siteWithNetwork(h, 'fz-site', 20);
  const machine = await createMachine(h, 'fz-site', 'fz-m1');
  const network = (await h.request({ url: '/v1/networks' })).body.items[0];
  const reg = await h.request({
    method: 'POST',
    url: '/v1/agents/register',
    token: null,
    body: { joinToken, hostname: 'agent', version: '1.0.0', capabilities: [] },
  });
  agentCredential = reg.body.credential;
  // Power requests wait for a site's agent to answer (504 after power.callTimeoutSeconds + 15 s):
  // the fuzzed power route gets a machine at a site with no agent, answered at once (409).
  await siteWithNetwork(h, 'fz-no-agent', 21);
  const unpowered = await createMachine(h, 'fz-no-agent', 'fz-m2');
  ids = {
    sites: site.id,
    machines: machine.id,
    networks: network.id,
    agents: reg.body.agentId,
    workflows: '00000000-0000-4000-8000-000000000000',
    power: unpowered.id,
  };
});

test.after.always(async () => {
  await h?.stop();
});

function target(path: string): { url: string; token: string | undefined } {
  const noun = path.split('/')[2]!;
  const url = path.replace('{id}', (path.endsWith('/power') ? ids.power : ids[noun]) ?? 'x').replace('{allocationId}', '00000000-0000-4000-8000-000000000000');
  return { url, token: noun === 'agents' ? agentCredential : undefined };
}

/** What every answer must be: 2xx, or a 4xx problem+json whose code matches its status. Never 5xx. */
function judge(res: { status: number; body: any; headers: Record<string, unknown> }): string | null {
  if (res.status >= 500) return `answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`;
  if (res.status >= 400) {
    if (!/^application\/problem\+json/.test(String(res.headers['content-type'])))
      return `a ${res.status} that is not problem+json: ${res.headers['content-type']}`;
    if (res.body?.status !== res.status || !/^SPROUT_ERR_[A-Z_]+$/.test(res.body?.code ?? ''))
      return `a malformed problem: ${JSON.stringify(res.body).slice(0, 300)}`;
  }
  return null;
}

test('generated bodies for every JSON route: never a 5xx, every error a problem+json', async (t) => {
  t.timeout(110_000);
  t.log(`seed ${seed} (SPROUT_FUZZ_SEED=${seed} replays), ${runsPerRoute} runs per route`);
  const spec = (await h.request({ url: '/openapi.json' })).body;
  const routes: { method: string; path: string; schema: any }[] = [];
  for (const [path, ops] of Object.entries<any>(spec.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      const schema = op.requestBody?.content?.['application/json']?.schema;
      if (schema) routes.push({ method: method.toUpperCase(), path, schema });
    }
  }
  t.true(routes.length >= 15, `found ${routes.length} routes with a JSON body`);
  let requests = 0;
  const statuses = new Map<number, number>();
  for (const route of routes) {
    const { url, token } = target(route.path);
    const result = await fc.check(
      fc.asyncProperty(bodyFor(route.schema), async (body) => {
        const res = await h.request({ method: route.method, url, token, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
        requests++;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const problem = judge(res);
        if (problem) throw new Error(`${route.method} ${url}: ${problem}`);
      }),
      { seed, numRuns: runsPerRoute, endOnFailure: true },
    );
    if (result.failed)
      t.fail(
        `${route.method} ${route.path} with ${JSON.stringify(result.counterexample?.[0])?.slice(0, 400)}: ${String((result.errorInstance as Error)?.message ?? result.errorInstance)}`,
      );
    // Not JSON at all: a 400. JSON of another shape (a bare array, a string, deep nesting): judged like the rest.
    for (const raw of rawBodies) {
      const res = await h.request({ method: route.method, url, token, body: raw, headers: { 'content-type': 'application/json' } });
      requests++;
      const problem = judge(res);
      const malformed = (() => {
        try {
          JSON.parse(raw);
          return false;
        } catch {
          return true;
        }
      })();
      if (problem || (malformed && res.status !== 400))
        t.fail(`${route.method} ${route.path} with raw ${JSON.stringify(raw.slice(0, 40))}: ${problem ?? `accepted with ${res.status}`}`);
    }
  }
  t.log(`${requests} requests over ${routes.length} routes; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  // Everything stored in the meantime still reads back through the response schemas.
  for (const list of ['/v1/sites', '/v1/machines?limit=1000', '/v1/networks', '/v1/workflows', '/v1/tokens', '/v1/audit?limit=500']) {
    const res = await h.request({ url: list });
    t.is(res.status, 200, `${list}: ${JSON.stringify(res.body).slice(0, 300)}`);
  }
});

test('what is accepted is stored exactly as sent: unicode, metacharacters and quotes survive a round trip', async (t) => {
  const cases = nasty.filter((s) => !s.includes('\u0000') && !/[\ud800-\udfff]/.test(s) && s.length <= 1024);
  for (const [i, description] of cases.entries()) {
    const res = await h.request({ method: 'PATCH', url: `/v1/sites/${ids.sites}`, body: { description, labels: { [`k${i}`]: description.slice(0, 255) } } });
    t.is(res.status, 200, `${JSON.stringify(description)}: ${JSON.stringify(res.body).slice(0, 200)}`);
    const back = await h.request({ url: `/v1/sites/${ids.sites}` });
    t.is(back.body.description, description);
    t.is(back.body.labels[`k${i}`], description.slice(0, 255));
  }
  // NUL and lone surrogates cannot be stored faithfully in PostgreSQL text: refused as input, not a 500.
  for (const description of ['a\u0000b', '\ud800', 'x\udfffy']) {
    const res = await h.request({ method: 'PATCH', url: `/v1/sites/${ids.sites}`, body: { description } });
    t.is(res.status, 400, `${JSON.stringify(description)}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
    t.is(res.body.code, 'SPROUT_ERR_VALIDATION');
  }
  const after = await h.request({ url: `/v1/sites/${ids.sites}` });
  t.false(/[\u0000\ud800-\udfff]/.test(JSON.stringify(after.body)) && !/\ud83d/.test(JSON.stringify(after.body)));
});

test('a body over 1 MiB is a 413 problem+json, on every JSON route, and changes nothing', async (t) => {
  const huge = JSON.stringify({ name: 'big', description: 'x'.repeat(1024 * 1024 + 10) });
  const before = (await h.kernel.store.db('audit_records').count('* as n').first()) as { n: string };
  for (const url of ['/v1/sites', '/v1/machines', '/v1/tokens', '/v1/networks', '/v1/machines/import', `/v1/agents/${ids.agents}/reports`]) {
    const res = await h.request({
      method: 'POST',
      url,
      token: url.includes('agents') ? agentCredential : undefined,
      body: huge,
      headers: { 'content-type': 'application/json' },
    });
    t.is(res.status, 413, url);
    t.regex(String(res.headers['content-type']), /^application\/problem\+json/);
    t.is(res.body.code, 'SPROUT_ERR_PAYLOAD_TOO_LARGE');
  }
  t.falsy(await h.kernel.store.db('sites').where({ name: 'big' }).first());
  t.truthy(before);
});

test('an unsupported content type is a 415 problem+json', async (t) => {
  const res = await h.request({ method: 'POST', url: '/v1/sites', body: '<site name="x"/>', headers: { 'content-type': 'application/xml' } });
  t.is(res.status, 415);
  t.is(res.body.code, 'SPROUT_ERR_UNSUPPORTED_MEDIA_TYPE');
});

test('hostile path ids and query strings on every route: never a 5xx, every error a problem+json', async (t) => {
  const spec = (await h.request({ url: '/openapi.json' })).body;
  const rawEncodings = ['%00', 'a%00b', '%ED%A0%80', '%FF%FE', '%C0%AE%C0%AE', '..%2F..%2Fetc', '%2e%2e', '%25', "'%20OR%20'1'%3D'1", 'x'.repeat(2000)];
  const percent = (text: string) => [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  const strings = fc.oneof(hostileString.map(percent), fc.constantFrom(...rawEncodings));
  let requests = 0;
  for (const [path, ops] of Object.entries<any>(spec.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      const queryNames: string[] = (op.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => p.name);
      if (!path.includes('{') && queryNames.length === 0) continue;
      const { token } = target(path);
      const result = await fc.check(
        fc.asyncProperty(strings, strings, fc.constantFrom(...(queryNames.length ? queryNames : ['x'])), async (id, value, name) => {
          const url = `${path.replace(/\{\w+\}/g, id)}?${name}=${value}`;
          const res = await h.request({ method: method.toUpperCase(), url, token, body: method === 'get' || method === 'delete' ? undefined : {} });
          requests++;
          const problem = judge(res);
          if (problem) throw new Error(`${method.toUpperCase()} ${url.slice(0, 200)}: ${problem}`);
        }),
        { seed, numRuns: Math.ceil(runsPerRoute / 3), endOnFailure: true },
      );
      if (result.failed) t.fail(String((result.errorInstance as Error)?.message ?? result.errorInstance));
    }
  }
  t.log(`${requests} requests with hostile path ids and query values`);
  t.true(requests > 300);
});
