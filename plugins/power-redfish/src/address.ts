/**
 * What a Redfish `bmc.address` may be: an https URL naming only the BMC (`https://host[:port]`).
 * http:// is refused: the BMC password (or session token) would travel in clear.
 */
export function checkRedfishAddress(address: string): string | undefined {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return 'must be an https URL, https://host[:port]';
  }
  if (url.protocol === 'http:') return 'must be https://host[:port]: http:// is refused, the BMC password would travel in clear';
  if (url.protocol !== 'https:') return `must be https://host[:port], not ${url.protocol}`;
  if (url.username || url.password) return 'must be https://host[:port] without credentials: give them as bmc.username and bmc.password';
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash)
    return 'must be https://host[:port] with no path: the driver finds /redfish/v1 itself';
  return undefined;
}
