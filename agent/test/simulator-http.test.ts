/**
 * The simulated machine's HTTP client: a request that goes out on a kept-alive connection
 * the server has just closed as idle (the server never read it) is sent again on a new
 * connection; a connection reset on a fresh connection is an error, not retried.
 */
import test from 'ava';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { MachineHttp } from '../src/simulator/machine-http.ts';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

test('a callback sent on a kept-alive connection the server dropped is sent again on a new one, once', async (t) => {
  // A bare HTTP/1.1 server: it answers the first request on each connection and keeps it
  // open, and drops a connection when a second request arrives on it, unread, as when its
  // keep-alive timeout fires just as the client sends.
  const answered: string[] = [];
  let connections = 0;
  const server = createNetServer((socket) => {
    connections++;
    let requests = 0;
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      const head = buffered.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, head))?.[1] ?? 0);
      if (buffered.length < head + 4 + length) return;
      const request = `${buffered.slice(0, buffered.indexOf(' HTTP/1.1'))} ${buffered.slice(head + 4, head + 4 + length)}`;
      buffered = '';
      if (++requests === 2) return void socket.destroy();
      answered.push(request);
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  t.teardown(() => server.close());
  const http = new MachineHttp();
  t.teardown(() => http.close());
  const call = { signal: new AbortController().signal };
  t.is((await http.getText(`${url}/metadata`, call)).status, 200);
  const answer = await http.postJson(`${url}/callbacks/token/install-complete`, { ok: true }, call);
  t.is(answer.status, 200);
  t.deepEqual(answered, ['GET /metadata ', 'POST /callbacks/token/install-complete {"ok":true}'], 'the callback was answered once');
  t.is(connections, 2, 'the second attempt used a new connection');
});

test('a connection reset on a new connection is an error naming the request, not sent again', async (t) => {
  let requests = 0;
  const server = createServer(() => {});
  server.on('connection', (socket: Socket) => socket.on('data', () => (requests++, socket.destroy())));
  const url = await listen(server);
  t.teardown(() => server.close());
  const http = new MachineHttp();
  t.teardown(() => http.close());
  const error = await t.throwsAsync(http.postJson(`${url}/callbacks/token/install-complete`, {}, { signal: new AbortController().signal }));
  t.regex(error!.message, /^POST http:\/\/127\.0\.0\.1:\d+\/callbacks\/token\/install-complete: (socket hang up|read ECONNRESET)/);
  t.is(requests, 1);
});
