/**
 * A lab machine's `bmc.address`: the simulator's power switch, `http://127.x.y.z:port`.
 * Loopback only — the switch listens on 127.0.0.1 and a lab never leaves the host.
 */
import { parseIpv4 } from '@sprout/kernel/sdk';

export function checkLabAddress(address: string): string | undefined {
  const hint = 'must be the lab power switch URL http://127.x.y.z:PORT (see `sprout lab status`)';
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return hint;
  }
  if (url.protocol !== 'http:') return hint;
  const host = parseIpv4(url.hostname);
  if (host === null || host >>> 24 !== 127) return hint;
  if (!url.port) return hint;
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || url.password) return hint;
  return undefined;
}
