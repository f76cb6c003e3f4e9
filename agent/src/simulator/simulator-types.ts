/**
 * What the machine simulator is told and what it tells back: where the agent's services
 * are, which machines to play (and which failure to inject), the events of each boot and
 * how a power-on ended. Types only; the behaviour lives beside them.
 */

export interface SimulatorEndpoints {
  /** The agent's DHCP server. */
  dhcp: { host: string; port: number };
  /**
   * The relay the simulator plays: it binds this address:port (a 127.x.y.z address inside
   * the provisioning network, e.g. 127.77.0.1 in 127.77.0.0/24 — Linux answers on all of
   * 127/8) and puts `address` in giaddr; the agent's dhcp service is configured with
   * `relayPort: <port>` so its replies come back here.
   */
  relay: { address: string; port: number };
  /** Where TFTP goes: host defaults to the siaddr/next-server the DHCP answer names; port to 69. */
  tftp?: { host?: string; port: number };
}

/** `os-silent`: the installed OS boots but never reports its first boot (no cloud-init phone_home). */
export const injectedFailures = ['hwtest-fails', 'image-checksum-mismatch', 'no-callback', 'crash-mid-install', 'os-silent'] as const;
export type InjectedFailure = (typeof injectedFailures)[number];

export interface SimulatedMachine {
  mac: string;
  arch?: 'bios' | 'uefi';
  /** The facts its hardware tests report. */
  cpus?: number;
  memoryMiB?: number;
  disks?: number;
  diskBytes?: number;
  fail?: InjectedFailure;
  /** Which test fails for 'hwtest-fails' (default: the first one it is given). */
  failTest?: string;
}

export type SimulatorEventKind =
  | 'dhcp'
  | 'tftp'
  | 'script'
  | 'waiting'
  | 'download'
  | 'metadata'
  | 'hwtest'
  | 'callback'
  | 'refused'
  | 'local-boot'
  | 'power-off'
  | 'crash'
  | 'error'
  | 'power'
  | 'erase'
  | 'first-boot';

export interface SimulatorEvent {
  mac: string;
  /** ms since epoch */
  at: number;
  kind: SimulatorEventKind;
  detail: string;
}

export interface PowerOnResult {
  outcome: 'local-boot' | 'powered-off' | 'error';
  /** PXE boots the machine made, refused ones included. */
  boots: number;
  detail?: string;
  /** The address its last DHCP exchange bound, if any. */
  address?: string;
}
