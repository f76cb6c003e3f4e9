/**
 * Bearer tokens are remembered for a moment after they resolve; that must never keep a
 * revoked token working through the instance that revoked it, nor an expired token
 * past its expiry, nor let unknown secrets fill memory.
 */
import test from 'ava';
import { TokenService } from '../src/auth/token-service.ts';
import { startHarness, type Harness } from '@sprout/test-support/harness.ts';

let h: Harness;

test.before(async () => {
  h = await startHarness('pglite');
});

test.after.always(async () => {
  await h?.stop();
});

test('a token revoked through the API is refused at once by the same instance, though it was just used', async (t) => {
  const secret = await h.token('admin', 'cache-revoked');
  t.is((await h.request({ url: '/v1/whoami', token: secret })).status, 200);
  t.is((await h.request({ url: '/v1/whoami', token: secret })).status, 200);
  t.is((await h.request({ method: 'DELETE', url: '/v1/tokens/cache-revoked' })).status, 200);
  const refused = await h.request({ url: '/v1/whoami', token: secret });
  t.is(refused.status, 401);
  t.is(refused.body.code, 'SPROUT_ERR_UNAUTHENTICATED');
});

test('a token revoked through the service is refused at once, though it was just used', async (t) => {
  const tokens = new TokenService(h.kernel.store.db);
  const { secret } = await tokens.create({ name: 'cache-revoked-direct', role: 'viewer', createdBy: 'test' });
  t.truthy(await tokens.authenticate(secret));
  await tokens.revoke('cache-revoked-direct');
  t.is(await tokens.authenticate(secret), null);
});

test('a remembered token is refused from the moment it expires', async (t) => {
  let now = Date.now();
  const tokens = new TokenService(h.kernel.store.db, () => now);
  const expiresAt = new Date(now + 60_000);
  const { secret } = await tokens.create({ name: 'cache-expiring', role: 'viewer', createdBy: 'test', expiresAt });
  t.is((await tokens.authenticate(secret))?.actor, 'token:cache-expiring');
  now = expiresAt.getTime() - 1;
  // Still remembered by the 2 s cache when it expires: the cache checks expiry itself.
  const fresh = new TokenService(h.kernel.store.db, () => now);
  t.truthy(await fresh.authenticate(secret));
  now = expiresAt.getTime();
  t.is(await fresh.authenticate(secret), null);
});

test('a revocation made elsewhere is seen once the remembered principal is older than its time to live', async (t) => {
  let now = Date.now();
  const tokens = new TokenService(h.kernel.store.db, () => now);
  const elsewhere = new TokenService(h.kernel.store.db);
  const { secret } = await tokens.create({ name: 'cache-revoked-elsewhere', role: 'viewer', createdBy: 'test' });
  t.truthy(await tokens.authenticate(secret));
  await elsewhere.revoke('cache-revoked-elsewhere');
  now += 10_000;
  t.is(await tokens.authenticate(secret), null);
});

test('an unknown secret is refused each time it is presented', async (t) => {
  const tokens = new TokenService(h.kernel.store.db);
  t.is(await tokens.authenticate('sprout_not-a-token'), null);
  t.is(await tokens.authenticate('sprout_not-a-token'), null);
});
