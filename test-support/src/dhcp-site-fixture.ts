/** A site's desired state and client packets for the DHCP server tests. */
import type { SiteDesiredState } from '@sprout/kernel';
import { blankMessage, bootRequest, encodeDhcp, encodeOption, opt } from '@sprout/plugin-dhcp-builtin/dhcp-codec';

export const macs = {
  bios: '52:54:00:00:00:01',
  uefi: '52:54:00:00:00:02',
  arm: '52:54:00:00:00:03',
  noIntent: '52:54:00:00:00:04',
  noNetboot: '52:54:00:00:00:05',
  relayed: '52:54:00:00:00:06',
  unknown: '52:54:00:00:99:01',
};

/** A provisioning network 198.18.30.0/24 (served from 198.18.30.1) and a relayed one 198.19.40.0/24 without dynamic range. */
export function siteState(overrides: Partial<SiteDesiredState> = {}): SiteDesiredState {
  return {
    site: { id: 'site-1', name: 'lab' },
    networks: [
      {
        id: 'net-prov',
        name: 'provisioning',
        cidr: '198.18.30.0/24',
        gateway: '198.18.30.254',
        dnsServers: ['198.18.30.53', '198.18.30.54'],
        domain: 'lab.example',
        vlan: null,
        pxe: true,
        ranges: [
          { kind: 'dynamic', start: '198.18.30.100', end: '198.18.30.109' },
          { kind: 'reserved', start: '198.18.30.10', end: '198.18.30.60' },
        ],
      },
      {
        id: 'net-far',
        name: 'far',
        cidr: '198.19.40.0/24',
        gateway: '198.19.40.1',
        dnsServers: ['198.19.40.53'],
        domain: null,
        vlan: 40,
        pxe: true,
        ranges: [],
      },
    ],
    reservations: [
      { siteId: 'site-1', networkId: 'net-prov', mac: macs.bios, address: '198.18.30.11', hostname: 'bios-1', netboot: true },
      { siteId: 'site-1', networkId: 'net-prov', mac: macs.uefi.toUpperCase(), address: '198.18.30.12', hostname: 'uefi-1', netboot: true },
      { siteId: 'site-1', networkId: 'net-prov', mac: macs.arm, address: '198.18.30.13', hostname: 'arm-1', netboot: true },
      { siteId: 'site-1', networkId: 'net-prov', mac: macs.noIntent, address: '198.18.30.14', netboot: true },
      { siteId: 'site-1', networkId: 'net-prov', mac: macs.noNetboot, address: '198.18.30.15', hostname: 'plain-1', netboot: false },
      { siteId: 'site-1', networkId: 'net-far', mac: macs.relayed, address: '198.19.40.20', hostname: 'far-1', netboot: true },
    ],
    bootIntents: [macs.bios, macs.uefi, macs.arm, macs.noNetboot, macs.relayed].map((mac, i) => ({
      machineId: `m-${i}`,
      hostname: `machine-${i}`,
      arch: mac === macs.arm ? ('arm64' as const) : ('x86_64' as const),
      bootMode: mac === macs.bios ? ('bios' as const) : ('uefi' as const),
      intent: 'commission' as const,
      params: {},
      workflow: null,
      mac,
    })),
    ...overrides,
  };
}

export interface ClientPacket {
  type: number;
  mac: string;
  xid?: number;
  ciaddr?: string;
  giaddr?: string;
  /** BOOTP flags; 0x8000 is the broadcast flag UEFI PXE firmware sets. */
  flags?: number;
  options?: [number, Buffer][];
}

export function clientPacket(p: ClientPacket): Buffer {
  const message = blankMessage(bootRequest);
  message.xid = p.xid ?? 0x1234abcd;
  message.ciaddr = p.ciaddr ?? '0.0.0.0';
  message.giaddr = p.giaddr ?? '0.0.0.0';
  if (p.giaddr) message.hops = 1;
  message.flags = p.flags ?? 0;
  Buffer.from(p.mac.replace(/:/g, ''), 'hex').copy(message.chaddr);
  message.options.set(opt.messageType, encodeOption.u8(p.type));
  for (const [code, value] of p.options ?? []) message.options.set(code, value);
  return encodeDhcp(message);
}

export const pxe = {
  vendor: [opt.vendorClass, Buffer.from('PXEClient:Arch:00000:UNDI:002001')] as [number, Buffer],
  arch: (arch: number): [number, Buffer] => [opt.clientArch, Buffer.from([arch >> 8, arch & 255])],
  ipxe: [opt.userClass, Buffer.from('iPXE')] as [number, Buffer],
  uuid: [opt.clientUuid, Buffer.from('00' + '0123456789abcdef0123456789abcdef', 'hex')] as [number, Buffer],
};
