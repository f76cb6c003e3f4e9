/** Free loopback ports for the lab's services, chosen before they start. */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

export async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function freeUdpPort(address = '127.0.0.1'): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => socket.once('error', reject).bind(0, address, () => resolve()));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** The loopback ports of one simulated site's services; the DHCP relay's on the site's gateway address. */
export interface SitePorts {
  dhcp: number;
  relay: number;
  tftp: number;
  http: number;
  dns: number;
}

export async function freeSitePorts(gateway: string): Promise<SitePorts> {
  return { dhcp: await freeUdpPort(), relay: await freeUdpPort(gateway), tftp: await freeUdpPort(), http: await freeTcpPort(), dns: await freeUdpPort() };
}

/**
 * The `services` of an agent playing a site on loopback (the lab, the benches): DHCP
 * behind the simulator's relay, TFTP, HTTP boot and DNS on `ports`, from `artifacts`.
 */
export function loopbackSiteServices(ports: SitePorts, artifacts: { tftpRoot: string; artifactRoot: string }, leaseSeconds: number) {
  const httpBase = `http://127.0.0.1:${ports.http}`;
  return {
    dhcp: {
      port: ports.dhcp,
      address: '127.0.0.1',
      relayPort: ports.relay,
      serverId: '127.0.0.1',
      nextServer: '127.0.0.1',
      httpBootUrl: httpBase,
      leaseSeconds,
    },
    tftp: { port: ports.tftp, address: '127.0.0.1', root: artifacts.tftpRoot },
    http: { port: ports.http, address: '127.0.0.1', baseUrl: httpBase, artifactRoot: artifacts.artifactRoot },
    dns: { port: ports.dns, address: '127.0.0.1' },
  };
}
