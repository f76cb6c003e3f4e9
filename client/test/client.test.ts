/**
 * createSproutClient against a real control plane (in-process kernel, listening on loopback):
 * typed calls answer typed bodies, problem+json becomes an ApiError with code/status/detail
 * and field errors, and an unreachable server becomes SPROUT_ERR_UNAVAILABLE.
 */
import test from 'ava';
import { ApiError, createSproutClient, ok } from '@sprout/client';
import { startHarness } from '@sprout/test-support/harness.ts';
import { freePort } from '@sprout/test-support/processes.ts';

test('typed calls, problem+json as ApiError, unreachable server', async (t) => {
  const port = await freePort();
  const h = await startHarness('pglite', { env: { SPROUT_LISTEN: `127.0.0.1:${port}` } });
  t.teardown(() => h.stop());
  const baseUrl = await h.kernel.listen();
  const client = createSproutClient({ baseUrl, token: h.adminToken });

  const site = await ok(client.POST('/v1/sites', { body: { name: 'fra1' } }));
  t.is(site.site.name, 'fra1');
  t.regex(site.joinToken.token, /^sprout_join_/);
  const sites = await ok(client.GET('/v1/sites'));
  t.deepEqual(
    sites.items.map((s) => s.name),
    ['fra1'],
  );

  const missing = await t.throwsAsync(ok(client.GET('/v1/machines/{id}', { params: { path: { id: 'no-such-machine' } } })), { instanceOf: ApiError });
  t.is(missing.status, 404);
  t.is(missing.code, 'SPROUT_ERR_NOT_FOUND');
  t.regex(missing.explain(), /no-such-machine.*\(SPROUT_ERR_NOT_FOUND, HTTP 404\)/);

  const bad = await t.throwsAsync(
    client.POST('/v1/machines', { body: { site: 'fra1', hostname: 'n1', arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac: 'zz' }] } as any }),
    { instanceOf: ApiError },
  );
  t.is(bad.status, 400);
  t.truthy(bad.code?.startsWith('SPROUT_ERR_'));
  t.true((bad.problem.errors ?? []).length > 0, bad.explain());

  const anonymous = createSproutClient({ baseUrl });
  const denied = await t.throwsAsync(anonymous.GET('/v1/sites'), { instanceOf: ApiError });
  t.is(denied.status, 401);

  const deadPort = await freePort();
  const down = await t.throwsAsync(createSproutClient({ baseUrl: `http://127.0.0.1:${deadPort}` }).GET('/v1/sites'), { instanceOf: ApiError });
  t.is(down.code, 'SPROUT_ERR_UNAVAILABLE');
  t.regex(down.message, new RegExp(`cannot reach the Sprout API at http://127.0.0.1:${deadPort} \\(.*ECONNREFUSED`));
});
