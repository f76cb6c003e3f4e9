/**
 * Reads `plugins.transport-nats.url` into what the NATS client needs: servers, credentials, TLS. The client
 * ignores credentials written into a URL, so they are taken out here; every message and
 * health detail shows the URL masked by the kernel's `maskUrls`, never the secret.
 */
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import { maskUrls } from '@sprout/kernel/sdk';

export interface NatsTarget {
  /** The URL as an operator may see it: password or token masked. */
  shown: string;
  options: Pick<NodeConnectionOptions, 'servers' | 'user' | 'pass' | 'token' | 'tls'>;
}

/** `nats://[user:pass@|token@]host[:port]`, or several separated by commas (a cluster); `tls://` requires TLS. */
export function natsTarget(url: string): NatsTarget {
  const parts = url
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  const servers: string[] = [];
  const shown: string[] = [];
  const options: NatsTarget['options'] = {};
  for (const part of parts) {
    const parsed = new URL(part);
    if (parsed.protocol !== 'nats:' && parsed.protocol !== 'tls:') throw new Error(`${redact(parsed)} is not a nats:// or tls:// URL`);
    if (!parsed.hostname) throw new Error(`${redact(parsed)} names no host`);
    servers.push(`${parsed.hostname}:${parsed.port || '4222'}`);
    shown.push(redact(parsed));
    if (parsed.protocol === 'tls:') options.tls = {};
    if (parsed.username && options.user === undefined && options.token === undefined) {
      const user = decodeURIComponent(parsed.username);
      if (parsed.password) {
        options.user = user;
        options.pass = decodeURIComponent(parsed.password);
      } else {
        options.token = user;
      }
    }
  }
  if (servers.length === 0) throw new Error('no NATS server in the URL');
  return { shown: shown.join(','), options: { ...options, servers } };
}

/** A URL (or a comma-separated list) safe to print: passwords and tokens masked. */
export function redactNatsUrl(url: string): string {
  return maskUrls(url);
}

function redact(url: URL): string {
  return maskUrls(`${url.protocol}//${url.username ? `${url.username}${url.password ? `:${url.password}` : ''}@` : ''}${url.host}`);
}
