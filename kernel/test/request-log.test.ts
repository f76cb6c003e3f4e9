/** Every answered request leaves one log line saying what was asked, by whom, and how it ended. */
import test from 'ava';
import Fastify from 'fastify';
import pino from 'pino';
import { Writable } from 'node:stream';
import { OneLinePerRequest } from '../src/api/request-log.ts';

function capturingApp() {
  const lines: any[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const app = Fastify({ loggerInstance: pino({ level: 'info' }, sink), logController: new OneLinePerRequest() });
  app.get('/things/:id', async () => ({ ok: true }));
  return { app, lines };
}

test('one line per request, with method, path, client, status, time and request id', async (t) => {
  const { app, lines } = capturingApp();
  const response = await app.inject({ url: '/things/7?x=1' });
  t.is(response.statusCode, 200);
  t.is(lines.length, 1);
  const [line] = lines;
  t.is(line.msg, 'request completed');
  t.is(line.level, 30);
  t.is(line.req.method, 'GET');
  t.is(line.req.url, '/things/7?x=1');
  t.is(line.req.remoteAddress, '127.0.0.1');
  t.is(line.res.statusCode, 200);
  t.is(typeof line.responseTime, 'number');
  t.truthy(line.reqId);
});

test('a request with no route still leaves its line', async (t) => {
  const { app, lines } = capturingApp();
  t.is((await app.inject({ url: '/nowhere' })).statusCode, 404);
  const answered = lines.filter((l) => l.msg === 'request completed');
  t.is(answered.length, 1);
  t.is(answered[0].res.statusCode, 404);
});
