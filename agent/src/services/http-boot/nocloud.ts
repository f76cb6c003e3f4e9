/**
 * The installed system's cloud-init datasource, NoCloud over HTTP: `GET
 * /nocloud/<seed token>/{meta-data,user-data,vendor-data,network-config}` (the installer
 * writes `seedfrom: <base>/nocloud/<token>/` into the target). cloud-init 22.4 reads only
 * meta-data, user-data and vendor-data over HTTP, so the static address travels in
 * meta-data as ENI text (`network-interfaces`); network-config (v2) is served for newer
 * releases. The request's user-data goes through untouched; SSH keys, hostname/FQDN and
 * phone_home (first-boot.ts) go in vendor-data, which user-data overrides key by key.
 * YAML documents are written as JSON (YAML is a superset of it): nothing to escape by hand.
 */
import type { SiteDesiredState } from '@sprout/kernel/sdk';
import type { MachineWait } from '../../machine-waits.ts';

export const nocloudFiles = ['meta-data', 'user-data', 'vendor-data', 'network-config'] as const;
export type NocloudFile = (typeof nocloudFiles)[number];

interface MachineNetwork {
  mac: string;
  hostname: string | null;
  address: string | null;
  prefix: number | null;
  gateway: string | null;
  dnsServers: string[];
  domain: string | null;
}

/** The machine's name and its IPAM allocation (its DHCP reservation: the address it was leased), from the desired state. */
export function machineNetwork(state: SiteDesiredState, machineId: string): MachineNetwork | undefined {
  const intent = state.bootIntents?.find((b) => b.machineId === machineId);
  if (!intent?.mac) return undefined;
  const reservation = state.reservations?.find((r) => r.mac === intent.mac);
  const network = state.networks?.find((n) => n.id === reservation?.networkId);
  return {
    mac: intent.mac,
    hostname: intent.hostname ?? null,
    address: reservation?.address ?? null,
    prefix: network ? Number(network.cidr.split('/')[1]) : null,
    gateway: network?.gateway ?? null,
    dnsServers: network?.dnsServers ?? [],
    domain: network?.domain ?? null,
  };
}

/** The interface name cloud-init gives the NIC with the machine's MAC (it renames the NIC to it). */
const IFACE = 'eth0';

function eni(net: MachineNetwork): string | undefined {
  if (!net.address || net.prefix === null) return undefined;
  return [
    `auto ${IFACE}`,
    `iface ${IFACE} inet static`,
    `  hwaddress ether ${net.mac}`,
    `  address ${net.address}/${net.prefix}`,
    ...(net.gateway ? [`  gateway ${net.gateway}`] : []),
    ...(net.dnsServers.length ? [`  dns-nameservers ${net.dnsServers.join(' ')}`] : []),
    ...(net.domain ? [`  dns-search ${net.domain}`] : []),
    '',
  ].join('\n');
}

function networkConfigV2(net: MachineNetwork): Record<string, unknown> {
  if (!net.address || net.prefix === null) return { version: 2, ethernets: { [IFACE]: { match: { macaddress: net.mac }, 'set-name': IFACE, dhcp4: true } } };
  return {
    version: 2,
    ethernets: {
      [IFACE]: {
        match: { macaddress: net.mac },
        'set-name': IFACE,
        addresses: [`${net.address}/${net.prefix}`],
        ...(net.gateway ? { routes: [{ to: 'default', via: net.gateway }] } : {}),
        ...(net.dnsServers.length || net.domain
          ? { nameservers: { ...(net.dnsServers.length ? { addresses: net.dnsServers } : {}), ...(net.domain ? { search: [net.domain] } : {}) } }
          : {}),
      },
    },
  };
}

/** The body of one NoCloud file for the machine a first-boot wait names. */
export function nocloudDocument(file: NocloudFile, wait: MachineWait, net: MachineNetwork | undefined, baseUrl: string): string {
  const hostname = net?.hostname ?? wait.machineId;
  const fqdn = net?.domain ? `${hostname}.${net.domain}` : hostname;
  switch (file) {
    case 'meta-data': {
      const interfaces = net && eni(net);
      return `${JSON.stringify({ 'instance-id': wait.workflowId ?? wait.token, 'local-hostname': hostname, ...(interfaces ? { 'network-interfaces': interfaces } : {}) }, null, 2)}\n`;
    }
    case 'user-data': {
      const given = wait.params.userData;
      // No user-data: an empty cloud-config, so cloud-init has nothing to complain about.
      return typeof given === 'string' && given.length > 0 ? given : '#cloud-config\n{}\n';
    }
    case 'vendor-data': {
      const keys = Array.isArray(wait.params.sshKeys) ? wait.params.sshKeys.map(String) : [];
      const vendor = {
        hostname,
        fqdn,
        prefer_fqdn_over_hostname: false,
        manage_etc_hosts: true,
        ...(keys.length ? { ssh_authorized_keys: keys, users: ['default'] } : {}),
        // An RSA host key costs ~10 s under TCG; ed25519 and ECDSA cover every current client.
        ssh_genkeytypes: ['ed25519', 'ecdsa'],
        phone_home: { url: `${baseUrl}/callbacks/${wait.token}/first-boot`, post: ['hostname', 'instance_id'], tries: 10 },
      };
      return `#cloud-config\n${JSON.stringify(vendor, null, 2)}\n`;
    }
    case 'network-config':
      return `${JSON.stringify(net ? networkConfigV2(net) : { version: 2 }, null, 2)}\n`;
  }
}
