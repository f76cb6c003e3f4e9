/**
 * The upstream HTTP client the stubs share (`UpstreamClient` from the light SDK), against
 * a real HTTP server on loopback: what it sends, what comes back, and how each way an
 * upstream can fail becomes a problem code with the upstream's words and never a secret.
 */
import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UpstreamClient, type SproutError } from '@sprout/kernel/sdk';

const secret = 'tok-5ecret-9931';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function upstream(t: import('ava').ExecutionContext, answer: (seen: Seen, res: ServerResponse) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const one = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(one);
      answer(one, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`, seen };
}

const client = (url: string, timeoutMs = 5000) =>
  new UpstreamClient({
    pluginId: 'thing-stub',
    name: 'Thing',
    url,
    headers: { authorization: `Token ${secret}` },
    secrets: [secret],
    credentialsHint: 'check plugins.thing-stub.token',
    timeoutMs,
  });

test('a call sends JSON with the credentials to the path under the base URL and returns the parsed answer', async (t) => {
  const { url, seen } = await upstream(t, (_, res) => res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":7}'));
  const answer = await client(url).call<{ id: number }>('POST', '/things/', { body: { name: 'a' } });
  t.deepEqual(answer, { status: 201, body: { id: 7 } });
  t.like(seen[0], { method: 'POST', url: '/api/things/', body: '{"name":"a"}' });
  t.like(seen[0]!.headers, { authorization: `Token ${secret}`, 'content-type': 'application/json', accept: 'application/json' });
});

test('an empty path calls the URL itself, and an empty body is undefined', async (t) => {
  const { url, seen } = await upstream(t, (_, res) => res.writeHead(204).end());
  t.deepEqual(await client(url).call('GET', ''), { status: 204, body: undefined });
  t.is(seen[0]!.url, '/api');
  t.is(seen[0]!.headers['content-type'], undefined, 'no body, no content-type');
});

test('a status the caller accepts comes back; others are thrown', async (t) => {
  const { url } = await upstream(t, (_, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"Not found."}'));
  t.deepEqual(await client(url).call('GET', 'things/9/', { accept: [200, 404] }), { status: 404, body: { detail: 'Not found.' } });
  const err = await t.throwsAsync<SproutError>(client(url).call('GET', 'things/9/'));
  t.like(err, { code: 'SPROUT_ERR_UNAVAILABLE', context: { plugin: 'thing-stub', method: 'GET', path: '/api/things/9/', upstreamStatus: 404 } });
  t.is(err!.message, 'Thing answered 404 to GET /api/things/9/: {"detail":"Not found."}');
});

test('401 and 403 are the operator’s credentials (SPROUT_ERR_CONFIG with the hint); the secret never shows', async (t) => {
  for (const status of [401, 403]) {
    const { url } = await upstream(t, (seen, res) => res.writeHead(status).end(`bad token ${seen.headers.authorization}`));
    const err = await t.throwsAsync<SproutError>(client(url).call('PATCH', 'zones/x', { body: {}, action: 'zone-update', context: { zone: 'x' } }));
    t.like(err, { code: 'SPROUT_ERR_CONFIG', context: { upstreamStatus: status, zone: 'x' } });
    t.is(err!.message, `Thing refused zone-update with ${status} (bad token Token ********); check plugins.thing-stub.token`);
    t.false(JSON.stringify(err!.context).includes(secret));
  }
});

test('an upstream failure keeps an excerpt of at most 300 characters of the body, whitespace folded', async (t) => {
  const { url } = await upstream(t, (_, res) => res.writeHead(500).end(`database\n\n  is locked ${secret} ${'x'.repeat(1000)}`));
  const err = await t.throwsAsync<SproutError>(client(url).call('GET', 'things/'));
  t.is(err!.code, 'SPROUT_ERR_UNAVAILABLE');
  t.true(err!.message.startsWith('Thing answered 500 to GET /api/things/: database is locked ******** xxx'), err!.message);
  t.true(err!.message.endsWith('…'));
  t.true(String(err!.context?.upstreamBody).length <= 301);
});

test('a body that is not JSON is SPROUT_ERR_UNAVAILABLE with what was said', async (t) => {
  const { url } = await upstream(t, (_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>proxy login</html>'));
  const err = await t.throwsAsync<SproutError>(client(url).call('GET', 'things/'));
  t.like(err, { code: 'SPROUT_ERR_UNAVAILABLE', context: { upstreamStatus: 200 } });
  t.is(err!.message, 'Thing answered 200 to GET /api/things/ with a body that is not JSON: <html>proxy login</html>');
});

test('no answer: a refused connection and a timeout are SPROUT_ERR_UNAVAILABLE naming the upstream and the call', async (t) => {
  const { url } = await upstream(t, () => undefined); // never answers
  const slow = await t.throwsAsync<SproutError>(client(url, 200).call('GET', 'things/'));
  t.like(slow, { code: 'SPROUT_ERR_UNAVAILABLE', context: { plugin: 'thing-stub', path: '/api/things/' } });
  t.is(slow!.message, `Thing at ${url} did not answer GET /api/things/: no answer within 200 ms`);

  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const refused = await t.throwsAsync<SproutError>(client(`http://127.0.0.1:${port}/`).call('GET', 'things/'));
  t.is(refused!.code, 'SPROUT_ERR_UNAVAILABLE');
  t.regex(refused!.message, new RegExp(`^Thing at http://127\\.0\\.0\\.1:${port}/ did not answer GET /things/: .*ECONNREFUSED`));
});
