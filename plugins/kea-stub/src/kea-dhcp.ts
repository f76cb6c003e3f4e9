/**
 * DHCP backed by Kea: each Sprout reservation is a Kea host reservation (identified by
 * hw-address) in the Kea subnet config maps the address's CIDR to, with the PXE boot
 * fields from config. Which Sprout site and network it belongs to rides along in the
 * host's `user-context`, so reservations read back from Kea say whose they are. Kea has
 * one set of hosts per subnet: two sites cannot reserve the same MAC in the same subnet.
 */
import { cidrContains, isIpv4, normaliseMac, parseCidr, parseIpv4, SproutError, type DhcpProvider, type DhcpReservation } from '@sprout/kernel/sdk';
import { keaEmpty, keaSuccess, type KeaClient } from './kea-client.ts';

export interface KeaOptionData {
  name?: string;
  code?: number;
  space?: string;
  data: string;
  'always-send'?: boolean;
}

export interface KeaDhcpConfig {
  /** Sprout network CIDR → Kea subnet-id. Read on every call. */
  subnets: Record<string, number>;
  /** PXE boot fields given to a reservation that may netboot. */
  nextServer?: string;
  serverHostname?: string;
  bootFileName?: string;
  optionData?: KeaOptionData[];
}

/** A host as Kea answers it (reservation-get, reservation-get-all). */
interface KeaHost {
  'subnet-id': number;
  'hw-address'?: string;
  'ip-address'?: string;
  hostname?: string;
  'user-context'?: { sprout?: { site?: string; network?: string; netboot?: boolean } };
}

export class KeaDhcp implements DhcpProvider {
  constructor(
    private readonly kea: KeaClient,
    private readonly config: KeaDhcpConfig,
    private readonly pluginId: string,
  ) {}

  async reserve(reservation: DhcpReservation): Promise<void> {
    const mac = normaliseMac(reservation.mac);
    if (!isIpv4(reservation.address)) {
      const message = `${JSON.stringify(reservation.address)} is not an IPv4 address`;
      throw new SproutError('SPROUT_ERR_VALIDATION', `DHCP reservation address: ${message}`, { details: [{ field: 'address', message }], context: { mac } });
    }
    const subnetId = this.subnetFor(reservation.address);
    // Checked before anything changes, so a conflict leaves Kea as it was.
    const holder = await this.kea.command<KeaHost>('reservation-get', { 'subnet-id': subnetId, 'ip-address': reservation.address }, [keaSuccess, keaEmpty]);
    const heldBy = holder.result === keaSuccess ? holder.arguments?.['hw-address'] : undefined;
    if (heldBy && heldBy.toLowerCase() !== mac) {
      throw new SproutError(
        'SPROUT_ERR_CONFLICT',
        `address ${reservation.address} is already reserved by ${heldBy} in Kea subnet ${subnetId} (network ${reservation.networkId})`,
        {
          context: { plugin: this.pluginId, networkId: reservation.networkId, address: reservation.address, mac, heldBy },
        },
      );
    }
    // Kea has no "replace": the MAC's old reservation goes first, wherever it was.
    await this.removeEverywhere(mac);
    const boot = reservation.netboot
      ? {
          ...(this.config.nextServer ? { 'next-server': this.config.nextServer } : {}),
          ...(this.config.serverHostname ? { 'server-hostname': this.config.serverHostname } : {}),
          ...(this.config.bootFileName ? { 'boot-file-name': this.config.bootFileName } : {}),
          ...(this.config.optionData?.length ? { 'option-data': this.config.optionData } : {}),
        }
      : {};
    await this.kea.command('reservation-add', {
      reservation: {
        'subnet-id': subnetId,
        'hw-address': mac,
        'ip-address': reservation.address,
        ...(reservation.hostname ? { hostname: reservation.hostname } : {}),
        ...boot,
        'user-context': { sprout: { site: reservation.siteId, network: reservation.networkId, netboot: reservation.netboot } },
      },
    });
  }

  async unreserve(_siteId: string, mac: string): Promise<void> {
    await this.removeEverywhere(normaliseMac(mac));
  }

  async listReservations(siteId: string): Promise<DhcpReservation[]> {
    const found: DhcpReservation[] = [];
    for (const subnetId of this.subnetIds()) {
      const answer = await this.kea.command<{ hosts?: KeaHost[] }>('reservation-get-all', { 'subnet-id': subnetId }, [keaSuccess, keaEmpty]);
      for (const host of answer.arguments?.hosts ?? []) {
        const sprout = host['user-context']?.sprout;
        if (sprout?.site !== siteId || !host['hw-address'] || !host['ip-address']) continue;
        found.push({
          siteId,
          networkId: String(sprout.network ?? ''),
          mac: normaliseMac(host['hw-address']),
          address: host['ip-address'],
          ...(host.hostname ? { hostname: host.hostname } : {}),
          netboot: sprout.netboot === true,
        });
      }
    }
    return found;
  }

  private async removeEverywhere(mac: string): Promise<void> {
    for (const subnetId of this.subnetIds()) {
      const answer = await this.kea.command('reservation-del', { 'subnet-id': subnetId, 'identifier-type': 'hw-address', identifier: mac }, [
        keaSuccess,
        keaEmpty,
        1,
      ]);
      // Kea answers a missing host with result 1 ("Host not deleted (not found).") or 3, depending on version.
      if (answer.result === 1 && !/not found/i.test(String(answer.text))) {
        throw new SproutError('SPROUT_ERR_UNAVAILABLE', `Kea refused reservation-del (result 1): ${answer.text}`, {
          context: { plugin: this.pluginId, keaResult: 1, keaText: answer.text, mac, subnetId },
        });
      }
    }
  }

  private subnetIds(): number[] {
    return [...new Set(Object.values(this.config.subnets))];
  }

  private subnetFor(address: string): number {
    const n = parseIpv4(address);
    for (const [cidr, id] of Object.entries(this.config.subnets)) {
      const block = parseCidr(cidr);
      if (n !== null && block && cidrContains(block, n)) return id;
    }
    const key = `plugins.${this.pluginId}.subnets`;
    throw new SproutError('SPROUT_ERR_CONFIG', `address ${address} is in no Kea subnet: add "<network CIDR>: <Kea subnet-id>" for its network under ${key}`, {
      details: [{ field: key, message: `has no CIDR containing ${address}` }],
      context: { plugin: this.pluginId, address },
    });
  }
}
