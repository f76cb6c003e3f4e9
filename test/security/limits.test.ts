/**
 * Limits an attacker meets at the API: failed authentications from one address are held
 * back (429 problem+json with Retry-After, audited) — bearer tokens and agent join tokens
 * alike — while other addresses go on; the limiter forgets after its window and keeps
 * bounded memory. (Body size limits are in api-input.test.ts; the agent's DHCP flood cap
 * in test/fuzz/dhcp.test.ts.)
 */
import test from 'ava';
import { AuthFailureLimiter, defaultAuthFailureLimits } from '../../kernel/src/auth/auth-failure-limiter.ts';
import { startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { siteWithNetwork } from '@sprout/test-support/control-plane.ts';

let h: Harness;
test.before(async () => {
  h = await startHarness('pglite');
});
test.after.always(() => h?.stop());

async function call(address: string, url: string, token?: string, body?: unknown) {
  const res = await h.kernel.app!.inject({
    method: body ? 'POST' : 'GET',
    url,
    remoteAddress: address,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(body ? { payload: body as object } : {}),
  });
  return { status: res.statusCode, headers: res.headers, body: JSON.parse(res.body) };
}

test('bad bearer tokens from one address: 401 up to the limit, then 429 for anything it presents; other addresses unaffected; audited', async (t) => {
  const limit = defaultAuthFailureLimits.maxFailures;
  for (let i = 0; i < limit; i++) t.is((await call('198.18.9.9', '/v1/whoami', `sprout_guess_${i}`)).status, 401);
  const held = await call('198.18.9.9', '/v1/whoami', 'sprout_guess_more');
  t.is(held.status, 429);
  t.regex(String(held.headers['content-type']), /^application\/problem\+json/);
  t.is(held.body.code, 'SPROUT_ERR_RATE_LIMITED');
  t.true(Number(held.headers['retry-after']) >= 1 && Number(held.headers['retry-after']) <= 60);
  // A right guess now looks like a wrong one.
  t.is((await call('198.18.9.9', '/v1/whoami', h.adminToken)).status, 429);
  // Other addresses are not held back.
  t.is((await call('198.18.9.10', '/v1/whoami', h.adminToken)).status, 200);
  // Identical refusals share one record with a count (see audit-growth.test.ts): the counts add up to every refusal.
  const audit = await h.kernel.store.db('audit_records').where({ source_address: '198.18.9.9', outcome: 'denied' });
  const details = (r: any) => (typeof r.details === 'string' ? JSON.parse(r.details) : r.details);
  const counted = (rows: any[]) => rows.reduce((sum, r) => sum + Number(details(r).count ?? 1), 0);
  t.is(counted(audit), limit + 2, 'every refusal is audited');
  t.is(counted(audit.filter((r: any) => details(r).status === 429)), 2);
  t.true(audit.length <= 2, 'in one record per status and reason');
});

test('bad join tokens at agent registration count too', async (t) => {
  const { joinToken } = await siteWithNetwork(h, 'limits-site', 31);
  const body = (token: string) => ({ joinToken: token, hostname: 'guess', version: '1', capabilities: [] });
  for (let i = 0; i < defaultAuthFailureLimits.maxFailures; i++)
    t.is((await call('198.18.9.20', '/v1/agents/register', undefined, body(`sprout_join_guess_${i}`))).status, 401);
  const held = await call('198.18.9.20', '/v1/agents/register', undefined, body(joinToken));
  t.is(held.status, 429);
  t.is(held.body.code, 'SPROUT_ERR_RATE_LIMITED');
  t.truthy(held.headers['retry-after']);
  t.is(
    await h.kernel.store
      .db('agents')
      .count('* as n')
      .first()
      .then((r: any) => Number(r.n)),
    0,
    'the held-back registration did not happen',
  );
  t.is((await call('198.18.9.21', '/v1/agents/register', undefined, body(joinToken))).status, 201, 'from elsewhere the same token works');
});

test('the limiter forgets after its window and tracks a bounded number of addresses', (t) => {
  let now = 0;
  const limiter = new AuthFailureLimiter({ maxFailures: 3, windowMs: 10_000, maxAddresses: 100 }, () => now);
  for (let i = 0; i < 3; i++) limiter.recordFailure('a');
  t.is(limiter.retryAfter('a'), 10);
  now = 4_000;
  t.is(limiter.retryAfter('a'), 6);
  now = 10_001;
  t.is(limiter.retryAfter('a'), null);
  for (let i = 0; i < 10_000; i++) limiter.recordFailure(`flood-${i}`);
  t.true((limiter as unknown as { failures: Map<string, unknown> }).failures.size <= 100);
});
