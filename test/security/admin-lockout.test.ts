/**
 * Nobody can lock every admin out: the last active admin token cannot be revoked (409,
 * audited as a denial), two racing revokes of the last two admin tokens leave one, and
 * an operator on the server's machine can always get back in with
 * `sprout token create --role admin --local` (the database written directly, audited).
 */
import test from 'ava';
import { userInfo } from 'node:os';
import { backends, freshDatabase, startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { startServer, sprout, type ServerProcess } from '@sprout/test-support/processes.ts';

const activeAdmins = async (h: Harness) =>
  (
    await h.kernel.store
      .db('api_tokens')
      .where({ role: 'admin' })
      .whereNull('revoked_at')
      .where((q: any) => q.whereNull('expires_at').orWhere('expires_at', '>', new Date()))
  ).map((r: any) => r.name as string);

for (const backend of backends) {
  test(`${backend}: revoking the last active admin token is 409 SPROUT_ERR_CONFLICT, audited as denied, and the token still works`, async (t) => {
    const h = await startHarness(backend);
    t.teardown(() => h.stop());
    // An expired admin token and a revoked one do not count as a way back in.
    await h.kernel.services.tokens.create({ name: 'old-admin', role: 'admin', createdBy: 'test', expiresAt: new Date(Date.now() - 60_000) });
    const other = await h.kernel.services.tokens.create({ name: 'gone-admin', role: 'admin', createdBy: 'test' });
    t.is((await h.request({ method: 'DELETE', url: '/v1/tokens/gone-admin' })).status, 200, 'an admin token that is not the last one can be revoked');
    t.truthy(other.token.id);

    const refused = await h.request({ method: 'DELETE', url: '/v1/tokens/bootstrap-admin', headers: { 'x-request-id': 'last-admin-revoke' } });
    t.is(refused.status, 409);
    t.is(refused.body.code, 'SPROUT_ERR_CONFLICT');
    t.regex(refused.body.detail, /last active admin token/);
    t.regex(String(refused.headers['content-type']), /^application\/problem\+json/);
    t.is((await h.request({ url: '/v1/whoami' })).status, 200, 'the admin token still works');
    t.deepEqual(await activeAdmins(h), ['bootstrap-admin']);
    const records = await h.kernel.store.db('audit_records').where({ request_id: 'last-admin-revoke' });
    t.is(records.length, 1);
    t.like(records[0], { action: 'token.revoke', outcome: 'denied', actor: 'token:bootstrap-admin' });

    // Revoking itself is fine once another admin exists.
    const second = await h.token('admin', 'second-admin');
    t.is((await h.request({ method: 'DELETE', url: '/v1/tokens/bootstrap-admin' })).status, 200);
    t.is((await h.request({ url: '/v1/whoami', token: second })).status, 200);
    t.is((await h.request({ method: 'DELETE', url: '/v1/tokens/second-admin', token: second })).status, 409);
  });

  test(`${backend}: two racing revokes of the last two admin tokens leave exactly one`, async (t) => {
    const h = await startHarness(backend);
    t.teardown(() => h.stop());
    let survivor = { name: 'bootstrap-admin', secret: h.adminToken };
    const rounds = 6;
    for (let round = 0; round < rounds; round++) {
      const fresh = { name: `race-${round}`, secret: await h.token('admin', `race-${round}`) };
      // Each revokes the other, at once.
      const [a, b] = await Promise.all([
        h.request({ method: 'DELETE', url: `/v1/tokens/${fresh.name}`, token: survivor.secret }),
        h.request({ method: 'DELETE', url: `/v1/tokens/${survivor.name}`, token: fresh.secret }),
      ]);
      t.deepEqual([a.status, b.status].sort(), [200, 409], `round ${round}: ${JSON.stringify([a.body, b.body])}`);
      const left = await activeAdmins(h);
      t.is(left.length, 1, `round ${round}: one admin token left, not ${left.join(', ') || 'none'}`);
      survivor = left[0] === fresh.name ? fresh : survivor;
      t.is((await h.request({ url: '/v1/whoami', token: survivor.secret })).status, 200);
    }
  });
}

async function whoami(server: ServerProcess, token: string) {
  const res = await fetch(`http://127.0.0.1:${server.port}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as { actor?: string; role?: string } };
}

test('recovery on the embedded store: refused while the server holds the data dir, then a working admin token once it is stopped', async (t) => {
  let server: ServerProcess | undefined = await startServer();
  const dir = server.dir;
  const port = server.port;
  t.teardown(async () => server?.stop());
  const run = (...args: string[]) => sprout(args, { cwd: dir, env: server!.env });

  const whileRunning = await run('token', 'create', '--role', 'admin', '--name', 'rescue', '--local');
  t.is(whileRunning.code, 1);
  t.regex(whileRunning.stderr, /SPROUT_ERR_DATA_DIR_LOCKED|in a running process/);
  t.regex(whileRunning.stderr, /Stop the server/);
  t.notRegex(whileRunning.stderr, /\n\s+at /, 'no stack trace');

  await server.stop('SIGTERM', true);
  const created = await run('token', 'create', '--role', 'admin', '--name', 'rescue', '--local', '--json');
  t.is(created.code, 0, created.stderr);
  const { secret, token } = JSON.parse(created.stdout);
  t.is(token.role, 'admin');
  t.is(token.createdBy, `local:${userInfo().username}`);

  server = await startServer({}, '', { dir, port });
  const me = await whoami(server, secret);
  t.is(me.status, 200);
  t.like(me.body, { actor: 'token:rescue', role: 'admin' });
  const audit = await fetch(`http://127.0.0.1:${port}/v1/audit?action=token.create&target=${token.id}`, {
    headers: { authorization: `Bearer ${secret}` },
  }).then((r) => r.json());
  t.is(audit.items.length, 1);
  t.like(audit.items[0], { actor: `local:${userInfo().username}`, outcome: 'success', details: { name: 'rescue', role: 'admin', source: 'local' } });
});

test('recovery on PostgreSQL: works while the server runs, and the server accepts the token at once', async (t) => {
  const url = await freshDatabase(t, 'sprout_rescue');
  let server: ServerProcess | undefined;
  t.teardown(() => server?.stop());
  server = await startServer({ SPROUT_DATABASE_URL: url });
  const created = await sprout(['token', 'create', '--role', 'admin', '--name', 'rescue-pg', '--local', '--json'], { cwd: server.dir, env: server.env });
  t.is(created.code, 0, created.stderr);
  const { secret } = JSON.parse(created.stdout);
  const me = await whoami(server, secret);
  t.is(me.status, 200);
  t.like(me.body, { actor: 'token:rescue-pg', role: 'admin' });
});
