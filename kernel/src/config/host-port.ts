/**
 * `host:port` as every listen setting takes it (the control plane's `listen`, the agent's
 * `metrics.listen`): a name or IPv4 address, or a bracketed IPv6 address, then a port.
 * Pure, so the agent's light SDK can share it with the control plane's config schema.
 */
export const hostPortPattern = '^[^\\s:]+:[0-9]{1,5}$|^\\[[0-9a-fA-F:]+\\]:[0-9]{1,5}$';
const hostPort = new RegExp(hostPortPattern);

/** The parts of a `host:port` (IPv6 brackets removed), or undefined when it is not one or the port is over 65535. */
export function parseHostPort(text: unknown): { host: string; port: number } | undefined {
  if (typeof text !== 'string' || !hostPort.test(text)) return undefined;
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  return port <= 65_535 ? { host: text.slice(0, at).replace(/^\[|\]$/g, ''), port } : undefined;
}
