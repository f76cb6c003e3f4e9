/**
 * A lab machine's `bmc.address`: the simulator's power switch, `http://127.x.y.z:port`.
 * Loopback only — the switch listens on 127.0.0.1 and a lab never leaves the host.
 */
export function checkLabAddress(address: string): string | undefined {
  const hint = 'must be the lab power switch URL http://127.x.y.z:PORT (see `sprout lab status`)';
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return hint;
  }
  if (url.protocol !== 'http:') return hint;
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(url.hostname) || url.hostname.split('.').some((n) => Number(n) > 255)) return hint;
  if (!url.port) return hint;
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || url.password) return hint;
  return undefined;
}
