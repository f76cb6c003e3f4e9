/**
 * Byte-for-byte forwarding between a TCP port and a unix socket. Unix sockets cross
 * network namespaces, TCP on 127.0.0.1 does not: a test's namespace reaches the host's
 * loopback services (control plane, NATS) through one forwarder on each side. Run as a
 * script inside a namespace: `socket-forwarder.ts tcp:127.0.0.1:4222 unix:/tmp/x.sock`.
 */
import { createConnection, createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';

export type Endpoint = { host: string; port: number } | { path: string };

export function parseEndpoint(text: string): Endpoint {
  const unix = /^unix:(.+)$/.exec(text);
  if (unix) return { path: unix[1] };
  const tcp = /^tcp:([\d.]+):(\d+)$/.exec(text);
  if (tcp) return { host: tcp[1], port: Number(tcp[2]) };
  throw new Error(`not an endpoint (tcp:HOST:PORT or unix:PATH): ${text}`);
}

/** Accepts on `listen` and pipes each connection to a new connection to `target`. */
export function forward(listen: Endpoint, target: Endpoint): Promise<Server> {
  const server = createServer((client) => {
    const upstream = createConnection(target);
    client.pipe(upstream).pipe(client);
    const close = () => (client.destroy(), upstream.destroy());
    client.on('error', close);
    upstream.on('error', close);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const ready = () => resolve(server);
    if ('path' in listen) server.listen(listen.path, ready);
    else server.listen(listen.port, listen.host, ready);
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [listen, target] = process.argv.slice(2).map(parseEndpoint);
  await forward(listen, target);
  process.stdout.write(`forwarding ${process.argv[2]} → ${process.argv[3]}\n`);
  process.once('SIGTERM', () => process.exit(0));
}
