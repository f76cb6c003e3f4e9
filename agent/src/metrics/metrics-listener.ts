/**
 * The agent's metrics listener (`metrics.listen` in agent.yaml): GET /metrics and nothing
 * else, on its own address, apart from the HTTP boot service that machines on the
 * provisioning network reach. It serves counts and states, never a token or a secret.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SproutError, metricsContentType, parseHostPort } from '@sprout/kernel/sdk';

export interface MetricsSettings {
  /** host:port to serve GET /metrics on, e.g. 127.0.0.1:9464; unset: no listener. */
  listen?: string;
}

/** Checks `metrics:` of agent.yaml, naming the bad field. */
export function parseMetricsSettings(given: unknown): { host: string; port: number } | undefined {
  if (given === undefined || given === null) return undefined;
  if (typeof given !== 'object' || Array.isArray(given))
    throw new SproutError('SPROUT_ERR_CONFIG', 'metrics: must be a mapping, e.g. { listen: 127.0.0.1:9464 }');
  const unknown = Object.keys(given).filter((k) => k !== 'listen');
  if (unknown.length) throw new SproutError('SPROUT_ERR_CONFIG', `metrics: unknown setting(s) ${unknown.join(', ')}; known: listen`);
  const listen = (given as MetricsSettings).listen;
  if (listen === undefined) return undefined;
  const at = parseHostPort(listen);
  if (!at) throw new SproutError('SPROUT_ERR_CONFIG', `metrics.listen: host:port, e.g. 127.0.0.1:9464, not ${JSON.stringify(listen)}`);
  return at;
}

export async function listenForMetrics(at: { host: string; port: number }, render: () => Promise<string>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      return void res.end('only GET /metrics is served here\n');
    }
    render().then(
      (text) => {
        res.writeHead(200, { 'content-type': metricsContentType, 'content-length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`metrics could not be collected: ${err.message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new SproutError('SPROUT_ERR_UNAVAILABLE', `metrics.listen: cannot listen on ${at.host}:${at.port}: ${err.message}`)));
    server.listen(at.port, at.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://${at.host.includes(':') ? `[${at.host}]` : at.host}:${port}/metrics` };
}
