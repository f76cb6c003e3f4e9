/**
 * Two network namespaces joined by a veth pair — a server side and a client (relay)
 * side — with addresses from 198.18.0.0/15 only, for load that must cross a real
 * interface (DHCP through a relay). Removed by the cleanup they were registered with.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Cleanup } from './bench-kit.ts';

export interface NamespacePair {
  server: string;
  client: string;
  /** The server side's interface (in `server`). */
  serverLink: string;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** `serverAddresses` and `clientAddress` are CIDRs like 198.18.0.1/16. */
export function namespacePair(cleanup: Cleanup, serverAddresses: string[], clientAddress: string): NamespacePair {
  const tag = randomBytes(3).toString('hex');
  const pair: NamespacePair = { server: `sprout-bench-s-${tag}`, client: `sprout-bench-c-${tag}`, serverLink: 'bs0' };
  for (const ns of [pair.server, pair.client]) {
    ip('netns', 'add', ns);
    cleanup.add(`delete namespace ${ns}`, () => ip('netns', 'del', ns));
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  ip('link', 'add', `bs-${tag}`, 'type', 'veth', 'peer', 'name', `bc-${tag}`);
  ip('link', 'set', `bs-${tag}`, 'netns', pair.server);
  ip('link', 'set', `bc-${tag}`, 'netns', pair.client);
  ip('-n', pair.server, 'link', 'set', `bs-${tag}`, 'name', pair.serverLink);
  ip('-n', pair.client, 'link', 'set', `bc-${tag}`, 'name', 'bc0');
  for (const address of serverAddresses) ip('-n', pair.server, 'addr', 'add', address, 'dev', pair.serverLink);
  ip('-n', pair.client, 'addr', 'add', clientAddress, 'dev', 'bc0');
  ip('-n', pair.server, 'link', 'set', pair.serverLink, 'up');
  ip('-n', pair.client, 'link', 'set', 'bc0', 'up');
  return pair;
}
