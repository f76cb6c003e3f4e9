/**
 * The HTTP API on both stores: probes, OpenAPI, authentication, roles, the authorize
 * hook, problem+json errors and the audit trail that records all of it.
 */
import test from 'ava';
import { Validator } from '@seriousme/openapi-schema-validator';
import { backends, startHarness, type Harness } from '@sprout/test-support/harness.ts';

for (const backend of backends) {
  let h: Harness;
  test.before(async () => {
    h = await startHarness(backend);
  });
  test.after.always(async () => {
    await h?.stop();
  });

  test(`${backend}: /healthz and /readyz answer 200 with JSON per check`, async (t) => {
    const health = await h.request({ url: '/healthz', token: null });
    t.is(health.status, 200);
    t.is(health.body.status, 'ok');
    const ready = await h.request({ url: '/readyz', token: null });
    t.is(ready.status, 200);
    t.deepEqual(ready.body.checks.database, { ok: true, detail: backend });
    t.deepEqual(ready.body.checks.migrations, { ok: true });
  });

  test(`${backend}: /openapi.json is valid OpenAPI 3 and documents every route`, async (t) => {
    const spec = await h.request({ url: '/openapi.json', token: null });
    t.is(spec.status, 200);
    const result = await new Validator().validate(spec.body);
    t.true(result.valid, JSON.stringify(result.errors));
    t.regex(spec.body.openapi, /^3\./);
    const routes = h.kernel.app!.printRoutes({ commonPrefix: false });
    for (const path of ['/v1/audit', '/v1/tokens', '/v1/tokens/{id}', '/v1/plugins', '/v1/whoami', '/healthz', '/readyz']) {
      t.truthy(spec.body.paths[path], `${path} missing from OpenAPI`);
    }
    t.truthy(spec.body.paths['/v1/audit'].get.parameters.find((p: any) => p.name === 'outcome'));
    t.truthy(spec.body.paths['/v1/tokens'].post.requestBody);
    t.deepEqual(spec.body.paths['/v1/tokens'].post.security, [{ bearer: [] }]);
    t.true(routes.includes('/v1/audit'));

    // Shaped for client generators: ids, components, described responses, problem+json errors, the agent protocol apart.
    const operations = Object.entries(spec.body.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
        .map(([method, op]) => ({ path, method, op })),
    );
    const ids = operations.map((o) => o.op.operationId);
    t.deepEqual(
      operations.filter((o) => !o.op.operationId).map((o) => `${o.method} ${o.path}`),
      [],
      'every operation has an operationId',
    );
    t.is(new Set(ids).size, ids.length, 'operationIds are unique');
    t.is(spec.body.paths['/v1/machines/{id}/deploy'].post.operationId, 'postMachinesByIdDeploy');
    for (const name of ['Problem', 'Machine', 'Workflow', 'Site', 'Network']) t.truthy(spec.body.components.schemas[name], `components.schemas.${name}`);
    const machineGet = spec.body.paths['/v1/machines/{id}'].get.responses;
    t.is(machineGet['200'].content['application/json'].schema.$ref, '#/components/schemas/Machine');
    t.is(machineGet['404'].content['application/problem+json'].schema.$ref, '#/components/schemas/Problem');
    const undescribed = operations.flatMap((o) =>
      Object.entries(o.op.responses ?? {})
        .filter(([, r]: [string, any]) => !r.description || r.description === 'Default Response')
        .map(([code]) => `${o.method} ${o.path} ${code}`),
    );
    t.deepEqual(undescribed, [], 'every response is described');
    // /readyz's 503 is its checks document, like its 200; every API error is a problem.
    const plainErrors = operations
      .filter((o) => o.path.startsWith('/v1'))
      .flatMap((o) =>
        Object.entries(o.op.responses ?? {})
          .filter(([code, r]: [string, any]) => Number(code) >= 400 && !r.content?.['application/problem+json'])
          .map(([code]) => `${o.method} ${o.path} ${code}`),
      );
    t.deepEqual(plainErrors, [], 'every error is application/problem+json');
    const agentOps = operations.filter((o) => o.op.tags?.includes('agent protocol')).map((o) => `${o.method} ${o.path}`);
    t.true(agentOps.includes('post /v1/agents/{id}/heartbeat') && agentOps.includes('post /v1/agents/register'), agentOps.join(', '));
    t.false(
      agentOps.some((o) => o.includes('/machines')),
      'operator routes are not in the agent protocol',
    );
  });

  test(`${backend}: /docs renders Swagger UI`, async (t) => {
    const docs = await h.kernel.app!.inject({ url: '/docs/' });
    t.is(docs.statusCode, 200);
    t.regex(docs.body, /swagger-ui/i);
  });

  test(`${backend}: an unauthenticated mutating request gets 401 problem+json and is audited`, async (t) => {
    const res = await h.request({
      method: 'POST',
      url: '/v1/tokens',
      token: null,
      body: { name: 'x', role: 'viewer' },
      headers: { 'x-request-id': `anon-${backend}` },
    });
    t.is(res.status, 401);
    t.regex(String(res.headers['content-type']), /^application\/problem\+json/);
    t.is(res.body.code, 'SPROUT_ERR_UNAUTHENTICATED');
    t.is(res.body.requestId, `anon-${backend}`);
    t.is(res.headers['x-request-id'], `anon-${backend}`);
    const audit = await h.request({ url: '/v1/audit?outcome=denied&actor=anonymous' });
    const record = audit.body.items.find((r: any) => r.requestId === `anon-${backend}`);
    t.truthy(record);
    t.is(record.action, 'token.create');
    t.is(record.details.status, 401);
  });

  test(`${backend}: a viewer on a mutating route gets 403 problem+json and the denial is in /v1/audit`, async (t) => {
    const viewer = await h.token('viewer', `viewer-${backend}`);
    const res = await h.request({ method: 'POST', url: '/v1/tokens', token: viewer, body: { name: 'sneaky', role: 'admin' } });
    t.is(res.status, 403);
    t.regex(String(res.headers['content-type']), /^application\/problem\+json/);
    t.is(res.body.code, 'SPROUT_ERR_FORBIDDEN');
    t.regex(res.body.detail, /role viewer; token\.create needs admin/);
    const audit = await h.request({ url: `/v1/audit?actor=token:viewer-${backend}` });
    t.is(audit.status, 200);
    const [denial] = audit.body.items;
    t.like(denial, {
      actor: `token:viewer-${backend}`,
      actorRole: 'viewer',
      action: 'token.create',
      targetType: 'token',
      outcome: 'denied',
      requestId: res.body.requestId,
    });
    t.is(denial.sourceAddress, '127.0.0.1');
    // nothing was created
    const tokens = await h.request({ url: '/v1/tokens' });
    t.false(tokens.body.items.some((tok: any) => tok.name === 'sneaky'));
    // a viewer may read
    t.is((await h.request({ url: '/v1/whoami', token: viewer })).body.role, 'viewer');
  });

  test(`${backend}: unknown, revoked and expired tokens are refused with 401`, async (t) => {
    t.is((await h.request({ url: '/v1/whoami', token: 'sprout_not-a-token' })).status, 401);
    t.is((await h.request({ url: '/v1/whoami', headers: { authorization: 'Basic Zm9vOmJhcg==' }, token: null })).status, 401);
    const created = await h.request({ method: 'POST', url: '/v1/tokens', body: { name: `short-${backend}`, role: 'operator' } });
    t.is(created.status, 201);
    t.is((await h.request({ url: '/v1/whoami', token: created.body.secret })).status, 200);
    t.is((await h.request({ method: 'DELETE', url: `/v1/tokens/short-${backend}` })).status, 200);
    t.is((await h.request({ url: '/v1/whoami', token: created.body.secret })).status, 401);
    const expired = await h.kernel.services.tokens.create({
      name: `expired-${backend}`,
      role: 'admin',
      createdBy: 'test',
      expiresAt: new Date(Date.now() - 1000),
    });
    t.is((await h.request({ url: '/v1/whoami', token: expired.secret })).status, 401);
  });

  test(`${backend}: creating a token is audited with actor, target and details, never the secret`, async (t) => {
    const res = await h.request({ method: 'POST', url: '/v1/tokens', body: { name: `ops-${backend}`, role: 'operator' } });
    t.is(res.status, 201);
    t.regex(res.body.secret, /^sprout_/);
    const audit = await h.request({ url: `/v1/audit?action=token.create&target=${res.body.token.id}` });
    t.is(audit.body.items.length, 1);
    t.like(audit.body.items[0], {
      actor: 'token:bootstrap-admin',
      outcome: 'success',
      targetType: 'token',
      targetId: res.body.token.id,
      details: { name: `ops-${backend}`, role: 'operator' },
    });
    t.false(JSON.stringify(audit.body).includes(res.body.secret));
    // the token store holds a hash, not the secret
    const rows = await h.kernel.store.db('api_tokens').select('secret_hash');
    t.false(rows.some((r: any) => r.secret_hash === res.body.secret));
  });

  test(`${backend}: bad input is a 400 naming the field, a duplicate a 409, and both are audited as failed`, async (t) => {
    const wrongType = await h.request({ method: 'POST', url: '/v1/tokens', body: { name: 5, role: 'operator', extra: true } });
    t.is(wrongType.status, 400);
    t.is(wrongType.body.code, 'SPROUT_ERR_VALIDATION');
    const fields = wrongType.body.errors.map((e: any) => e.field);
    t.true(fields.includes('body/name'));
    t.true(fields.includes('body/extra'));
    const badRole = await h.request({ method: 'POST', url: '/v1/tokens', body: { name: 'x', role: 'root' } });
    t.deepEqual(badRole.body.errors, [{ field: 'body/role', message: 'must be one of: viewer, operator, admin' }]);
    const missing = await h.request({ method: 'POST', url: '/v1/tokens', body: { name: 'no-role' } });
    t.true(missing.body.errors.some((e: any) => e.field === 'body/role'));
    const badJson = await h.request({ method: 'POST', url: '/v1/tokens', body: '{"name":', headers: { 'content-type': 'application/json' } });
    t.is(badJson.status, 400);
    t.regex(String(badJson.headers['content-type']), /problem\+json/);

    await h.request({ method: 'POST', url: '/v1/tokens', body: { name: `dup-${backend}`, role: 'viewer' } });
    const dup = await h.request({ method: 'POST', url: '/v1/tokens', body: { name: `dup-${backend}`, role: 'viewer' } });
    t.is(dup.status, 409);
    t.is(dup.body.code, 'SPROUT_ERR_CONFLICT');
    const failed = await h.request({ url: '/v1/audit?outcome=failed&action=token.create' });
    t.true(failed.body.items.some((r: any) => r.requestId === dup.body.requestId && /SPROUT_ERR_CONFLICT/.test(r.details.error)));
    t.true(failed.body.items.some((r: any) => r.requestId === wrongType.body.requestId && r.details.status === 400));
  });

  test(`${backend}: unknown routes and ids answer 404 problem+json`, async (t) => {
    const route = await h.request({ url: '/v1/nothing-here' });
    t.is(route.status, 404);
    t.is(route.body.code, 'SPROUT_ERR_NOT_FOUND');
    const token = await h.request({ method: 'DELETE', url: '/v1/tokens/no-such-token' });
    t.is(token.status, 404);
    t.is(token.body.code, 'SPROUT_ERR_NOT_FOUND');
  });

  test(`${backend}: /v1/audit filters by actor, action, outcome and since, and pages with a cursor`, async (t) => {
    const before = new Date(Date.now() - 1000).toISOString();
    for (let i = 0; i < 5; i++) await h.request({ method: 'POST', url: '/v1/tokens', body: { name: `page-${backend}-${i}`, role: 'viewer' } });
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await h.request({
        url: `/v1/audit?action=token.create&outcome=success&since=${encodeURIComponent(before)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      });
      t.is(page.status, 200);
      t.true(page.body.items.length <= 2);
      seen.push(...page.body.items.map((r: any) => r.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    t.true(seen.length >= 5);
    t.deepEqual(
      [...seen].sort((a, b) => b - a),
      seen,
      'newest first',
    );
    t.is(new Set(seen).size, seen.length, 'no record twice across pages');
    const bad = await h.request({ url: '/v1/audit?outcome=maybe' });
    t.is(bad.status, 400);
    t.true(bad.body.errors.some((e: any) => e.field.startsWith('querystring/outcome')));
  });

  test(`${backend}: /v1/plugins lists builtin plugins and what they serve`, async (t) => {
    const res = await h.request({ url: '/v1/plugins' });
    t.is(res.status, 200);
    const ipam = res.body.items.find((p: any) => p.id === 'ipam-builtin');
    t.like(ipam, { builtin: true, active: true, provides: ['ipam'], activeFor: ['ipam'] });
    t.like(
      res.body.items.find((p: any) => p.id === 'netbox-stub'),
      { active: false, activeFor: [] },
    );
    t.like(
      res.body.items.find((p: any) => p.id === 'transport-http'),
      { active: true, activeFor: ['transport'] },
    );
  });

  test(`${backend}: creating a machine writes it and its record together; a taken hostname or MAC or an unknown site writes nothing`, async (t) => {
    const site = `dc-create-m-${backend}`;
    t.is((await h.request({ method: 'POST', url: '/v1/sites', body: { name: site } })).status, 201);
    const count = async () => ({
      machines: Number((await h.kernel.store.db('machines').count({ n: '*' }))[0].n),
      interfaces: Number((await h.kernel.store.db('interfaces').count({ n: '*' }))[0].n),
      created: Number((await h.kernel.store.db('audit_records').where({ action: 'machine.create', outcome: 'success' }).count({ n: '*' }))[0].n),
    });
    const body = (hostname: string, macs: string[], over: Record<string, unknown> = {}) => ({
      site,
      hostname,
      arch: 'x86_64',
      bootMode: 'uefi',
      interfaces: macs.map((mac, i) => ({ mac, name: `eth${i}`, pxe: i === 0 })),
      ...over,
    });
    const created = await h.request({ method: 'POST', url: '/v1/machines', body: body('Alpha', ['52:54:00:cc:00:01', '52:54:00:cc:00:02']) });
    t.is(created.status, 201, JSON.stringify(created.body));
    t.like(created.body, { hostname: 'alpha', site: { name: site }, status: 'new', hardwareTests: [] });
    t.deepEqual(
      created.body.interfaces.map((i: any) => [i.name, i.mac, i.pxe]),
      [
        ['eth0', '52:54:00:cc:00:01', true],
        ['eth1', '52:54:00:cc:00:02', false],
      ],
    );
    const record = (await h.request({ url: `/v1/audit?action=machine.create&target=${created.body.id}` })).body.items;
    t.is(record.length, 1);
    t.like(record[0], { outcome: 'success', targetType: 'machine', targetId: created.body.id, details: { site, hostname: 'alpha', interfaces: 2 } });
    t.deepEqual((await h.request({ url: `/v1/machines/${created.body.id}` })).body.interfaces, created.body.interfaces);

    const before = await count();
    const hostnameTaken = await h.request({ method: 'POST', url: '/v1/machines', body: body('ALPHA', ['52:54:00:cc:00:03']) });
    t.is(hostnameTaken.status, 409);
    t.deepEqual(hostnameTaken.body.errors, [{ field: 'hostname', message: 'already taken at this site' }]);
    const macTaken = await h.request({ method: 'POST', url: '/v1/machines', body: body('beta', ['52:54:00:cc:00:04', '52:54:00:CC:00:02']) });
    t.is(macTaken.status, 409);
    t.is(macTaken.body.errors[0].field, 'interfaces/1/mac');
    t.regex(macTaken.body.errors[0].message, /52:54:00:cc:00:02 belongs to machine alpha/);
    const noSite = await h.request({ method: 'POST', url: '/v1/machines', body: body('gamma', ['52:54:00:cc:00:05'], { site: 'nowhere' }) });
    t.is(noSite.status, 400);
    t.deepEqual(noSite.body.errors, [{ field: 'site', message: 'no site with id or name "nowhere"' }]);
    t.deepEqual(await count(), before, 'a refused create writes no machine, interface or success record');
    const failed = (await h.request({ url: '/v1/audit?action=machine.create&outcome=failed' })).body.items.map((r: any) => r.requestId);
    for (const refused of [hostnameTaken, macTaken, noSite]) t.true(failed.includes(refused.body.requestId));

    // Racing creates of one hostname: one machine, one record.
    const raced = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        h.request({ method: 'POST', url: '/v1/machines', body: body('racer', [`52:54:00:cd:00:${String(i + 10).padStart(2, '0')}`]) }),
      ),
    );
    t.is(raced.filter((r) => r.status === 201).length, 1, raced.map((r) => r.status).join(' '));
    t.true(raced.every((r) => r.status === 201 || r.status === 409));
    t.is(Number((await h.kernel.store.db('machines').where({ hostname: 'racer' }).count({ n: '*' }))[0].n), 1);
    t.is((await count()).created, before.created + 1);
  });
}
