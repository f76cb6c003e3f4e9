/**
 * The authorization matrix: every route the API serves × every kind of caller, against
 * one table of who may do what. The route list comes from the running app (its route
 * tree and its OpenAPI document), so a route added without an entry here fails the
 * test. Every refusal must be problem+json and leave a `denied` audit record.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { siteWithNetwork } from '@sprout/test-support/control-plane.ts';
import { MachineWaits } from '../../agent/src/machine-waits.ts';

type Needs = 'public' | 'viewer' | 'operator' | 'admin' | 'agent';

/** Who may call each route. A new route needs a line here, on purpose. */
const expected: Record<string, Needs> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'viewer',
  'GET /v1/audit': 'viewer',
  'POST /v1/audit/prune': 'admin',
  'POST /v1/tokens': 'admin',
  'GET /v1/tokens': 'admin',
  'DELETE /v1/tokens/{id}': 'admin',
  'GET /v1/plugins': 'viewer',
  'GET /v1/whoami': 'viewer',
  'POST /v1/sites': 'operator',
  'GET /v1/sites': 'viewer',
  'GET /v1/sites/{id}': 'viewer',
  'PATCH /v1/sites/{id}': 'operator',
  'DELETE /v1/sites/{id}': 'operator',
  'POST /v1/sites/{id}/sync': 'operator',
  'POST /v1/sites/{id}/join-tokens': 'operator',
  'GET /v1/sites/{id}/discovered-macs': 'viewer',
  'GET /v1/sites/{id}/leases': 'viewer',
  'GET /v1/images': 'viewer',
  'GET /v1/sites/{id}/images': 'viewer',
  'POST /v1/sites/{id}/images': 'operator',
  'DELETE /v1/sites/{id}/images/{name}': 'operator',
  'GET /v1/sites/{id}/image-requests/{request}': 'viewer',
  'POST /v1/machines': 'operator',
  'GET /v1/machines': 'viewer',
  'POST /v1/machines/import': 'operator',
  'GET /v1/machines/{id}': 'viewer',
  'PATCH /v1/machines/{id}': 'operator',
  'DELETE /v1/machines/{id}': 'operator',
  'GET /v1/machines/{id}/events': 'viewer',
  'GET /v1/machines/{id}/power': 'viewer',
  'POST /v1/machines/{id}/power': 'operator',
  'POST /v1/machines/{id}/commission': 'operator',
  'POST /v1/machines/{id}/test': 'operator',
  'POST /v1/machines/{id}/deploy': 'operator',
  'POST /v1/machines/{id}/release': 'operator',
  'POST /v1/machines/{id}/mark-broken': 'operator',
  'POST /v1/machines/{id}/mark-fixed': 'operator',
  'POST /v1/machines/allocate': 'operator',
  'POST /v1/networks': 'operator',
  'GET /v1/networks': 'viewer',
  'GET /v1/networks/{id}': 'viewer',
  'PATCH /v1/networks/{id}': 'operator',
  'DELETE /v1/networks/{id}': 'operator',
  'GET /v1/networks/{id}/allocations': 'viewer',
  'POST /v1/networks/{id}/allocations': 'operator',
  'DELETE /v1/networks/{id}/allocations/{allocationId}': 'operator',
  'GET /v1/workflows': 'viewer',
  'GET /v1/workflows/{id}': 'viewer',
  'GET /v1/workflows/{id}/user-data': 'operator',
  'POST /v1/workflows/{id}/cancel': 'operator',
  'POST /v1/agents/register': 'public',
  'POST /v1/agents/{id}/heartbeat': 'agent',
  'GET /v1/agents/{id}/desired-state': 'agent',
  'GET /v1/agents/{id}/work': 'agent',
  'POST /v1/agents/{id}/work/settle': 'agent',
  'POST /v1/agents/{id}/reports': 'agent',
};

type PrincipalName =
  | 'anonymous'
  | 'viewer'
  | 'operator'
  | 'admin'
  | 'agent-site-a'
  | 'agent-site-b'
  | 'machine-boot-token'
  | 'expired-admin'
  | 'revoked-admin'
  | 'malformed-header';
const principals: PrincipalName[] = [
  'anonymous',
  'viewer',
  'operator',
  'admin',
  'agent-site-a',
  'agent-site-b',
  'machine-boot-token',
  'expired-admin',
  'revoked-admin',
  'malformed-header',
];
const rank = { viewer: 1, operator: 2, admin: 3 } as const;

/** 'allowed' means the guard let the request through (the handler may still say 400/404). */
function outcomeFor(needs: Needs, who: PrincipalName): 'allowed' | 401 | 403 {
  if (needs === 'public') return 'allowed';
  if (['anonymous', 'machine-boot-token', 'expired-admin', 'revoked-admin', 'malformed-header'].includes(who)) return 401;
  // Agent routes carry the agent's own id in the path: the test always uses site A's agent.
  if (needs === 'agent') return who === 'agent-site-a' ? 'allowed' : 403;
  if (who === 'agent-site-a' || who === 'agent-site-b') return 403;
  return rank[who as keyof typeof rank] >= rank[needs] ? 'allowed' : 403;
}

/** Every route in fastify's route tree (`printRoutes`), as `METHOD /path/{param}`, without HEAD and the Swagger UI. */
function routeTree(printed: string): string[] {
  const found: string[] = [];
  const stack: string[] = [];
  for (const line of printed.split('\n')) {
    const m = /^([│├└─\s]*)(\S.*?)\s+\(([A-Z, ]+)\)\s*$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack[depth] = m[2]!;
    const path = stack.join('').replace(/:(\w+)/g, '{$1}');
    for (const method of m[3]!.split(/,\s*/)) if (method !== 'HEAD' && !path.startsWith('/docs') && path !== '/openapi.json') found.push(`${method} ${path}`);
  }
  return found;
}

let h: Harness;
const secrets = {} as Record<PrincipalName, string | null>;
let agentA = '';
const work = mkdtempSync(join(tmpdir(), 'sprout-authz-'));

test.before(async () => {
  h = await startHarness('postgres');
  const a = await siteWithNetwork(h, 'authz-a', 10);
  const b = await siteWithNetwork(h, 'authz-b', 11);
  const register = async (joinToken: string) => {
    const res = await h.request({
      method: 'POST',
      url: '/v1/agents/register',
      token: null,
      body: { joinToken, hostname: 'agent', version: '1.0.0', capabilities: [] },
    });
    if (res.status !== 201) throw new Error(`register: ${JSON.stringify(res.body)}`);
    return res.body as { agentId: string; credential: string };
  };
  const ra = await register(a.joinToken);
  const rb = await register(b.joinToken);
  agentA = ra.agentId;
  const revoked = await h.kernel.services.tokens.create({ name: 'authz-revoked', role: 'admin', createdBy: 'test' });
  await h.kernel.services.tokens.revoke('authz-revoked');
  const expired = await h.kernel.services.tokens.create({ name: 'authz-expired', role: 'admin', createdBy: 'test', expiresAt: new Date(Date.now() - 1000) });
  // A real per-boot token as the agent issues it to a machine: it means nothing to the API.
  const bootToken = new MachineWaits(work).add({ machineId: randomUUID(), workItemId: 'w1', workflowId: null, step: 'install', params: {} }).token;
  Object.assign(secrets, {
    anonymous: null,
    viewer: await h.token('viewer', 'authz-viewer'),
    operator: await h.token('operator', 'authz-operator'),
    admin: await h.token('admin', 'authz-admin'),
    'agent-site-a': ra.credential,
    'agent-site-b': rb.credential,
    'machine-boot-token': bootToken,
    'expired-admin': expired.secret,
    'revoked-admin': revoked.secret,
    'malformed-header': null,
  });
});

test.after.always(async () => {
  await h?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('the table names every route the app serves, with the role its OpenAPI description states', async (t) => {
  const spec = (await h.request({ url: '/openapi.json' })).body;
  const documented: string[] = [];
  for (const [path, ops] of Object.entries<any>(spec.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      const key = `${method.toUpperCase()} ${path}`;
      documented.push(key);
      const role = /Requires role: \*\*(\w+)\*\*/.exec(op.description ?? '')?.[1] ?? 'public';
      t.is(role, expected[key] ?? '(no entry)', `${key}: documented role vs the matrix`);
    }
  }
  const served = routeTree(h.kernel.app!.printRoutes({ commonPrefix: false }));
  t.deepEqual([...served].sort(), [...documented].sort(), 'every served route is in the OpenAPI document');
  t.deepEqual(Object.keys(expected).sort(), [...served].sort(), 'the matrix has exactly one entry per served route');
});

test('every route × every principal: allowed, 401 or 403 as the table says; every refusal audited as denied', async (t) => {
  const spec = (await h.request({ url: '/openapi.json' })).body;
  let checked = 0;
  const wrong: string[] = [];
  for (const [path, ops] of Object.entries<any>(spec.paths)) {
    for (const method of Object.keys(ops)) {
      const key = `${method.toUpperCase()} ${path}`;
      const needs = expected[key];
      if (!needs) {
        wrong.push(`${key}: no entry in the matrix`);
        continue;
      }
      // Path ids: site A's agent for agent routes; ids that exist nowhere elsewhere, so an allowed call changes nothing.
      let url = path
        .replace('{allocationId}', randomUUID())
        .replace('{request}', randomUUID())
        .replace('{name}', 'no-such-image.raw')
        .replace('{id}', needs === 'agent' ? agentA : randomUUID());
      if (key === 'GET /v1/agents/{id}/work' || key === 'GET /v1/agents/{id}/desired-state') url += '?wait=0';
      for (const who of principals) {
        const want = outcomeFor(needs, who);
        const requestId = `authz-${checked}-${who}`;
        const headers: Record<string, string> = { 'x-request-id': requestId };
        if (who === 'malformed-header') headers.authorization = `Basic ${Buffer.from(`admin:${h.adminToken}`).toString('base64')}`;
        if (secrets[who]) headers.authorization = `Bearer ${secrets[who]}`;
        // Each request from its own address: the matrix is not a brute-force attempt, and must not be held back as one.
        const injected = await h.kernel.app!.inject({
          method: method.toUpperCase() as 'GET',
          url,
          headers,
          remoteAddress: `10.77.${checked >> 8}.${checked & 255}`,
          ...(['post', 'patch', 'put'].includes(method) ? { payload: {} } : {}),
        });
        const res = {
          status: injected.statusCode,
          headers: injected.headers as Record<string, unknown>,
          body: (() => {
            try {
              return JSON.parse(injected.body);
            } catch {
              return injected.body;
            }
          })(),
        };
        checked++;
        if (want === 'allowed') {
          if ([401, 403].includes(res.status) || res.status >= 500)
            wrong.push(`${key} as ${who}: expected to pass the guard, got ${res.status} ${JSON.stringify(res.body)}`);
          continue;
        }
        if (res.status !== want) {
          wrong.push(`${key} as ${who}: expected ${want}, got ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
          continue;
        }
        if (
          !/^application\/problem\+json/.test(String(res.headers['content-type'])) ||
          res.body.code !== (want === 401 ? 'SPROUT_ERR_UNAUTHENTICATED' : 'SPROUT_ERR_FORBIDDEN')
        ) {
          wrong.push(`${key} as ${who}: refusal is not problem+json with the right code: ${res.headers['content-type']} ${JSON.stringify(res.body)}`);
        }
        const records = await h.kernel.store.db('audit_records').where({ request_id: requestId });
        if (records.length !== 1 || records[0].outcome !== 'denied')
          wrong.push(`${key} as ${who}: want one denied audit record, found ${JSON.stringify(records)}`);
        else if (JSON.stringify(records[0]).includes(h.adminToken) || (secrets[who] && JSON.stringify(records[0]).includes(secrets[who]!)))
          wrong.push(`${key} as ${who}: the audit record holds the secret`);
      }
    }
  }
  t.deepEqual(wrong, []);
  t.is(checked, Object.keys(expected).length * principals.length);
  t.log(`${Object.keys(expected).length} routes × ${principals.length} principals = ${checked} requests checked`);
});

test("an agent cannot post reports for another agent's site, and the refusal is audited", async (t) => {
  const res = await h.request({
    method: 'POST',
    url: `/v1/agents/${agentA}/reports`,
    token: secrets['agent-site-a'],
    headers: { 'x-request-id': 'authz-foreign-report' },
    body: { reports: [{ agentId: agentA, siteId: randomUUID(), sequence: 1, kind: 'task.log', at: new Date().toISOString(), payload: {} }] },
  });
  t.is(res.status, 403);
  t.is(res.body.code, 'SPROUT_ERR_FORBIDDEN');
  const records = await h.kernel.store.db('audit_records').where({ request_id: 'authz-foreign-report', outcome: 'denied' });
  t.is(records.length, 1);
});
