/**
 * Decides what Sprout's DHCP server answers to one datagram, from the site's desired
 * state and the lease table: the socket-free half of the server, so tests and fuzzing
 * drive it directly. It must never throw to its caller, never answer with a packet the
 * codec would reject, and never give one address to two MACs.
 */
import type { SiteDesiredState } from '@sprout/kernel/sdk';
import {
  blankMessage,
  bootReply,
  bootRequest,
  clientMac,
  decodeDhcp,
  encodeDhcp,
  encodeOption,
  MalformedDhcpPacket,
  messageType,
  messageTypes,
  opt,
  readOption,
  type DhcpMessage,
} from './dhcp-codec.ts';
import type { DhcpSettings } from './dhcp-settings.ts';
import { cidrContains, formatIpv4, ipv4ToInt, isIpv4, parseCidr, parseMac, type Ipv4Subnet } from '@sprout/kernel/sdk';
import type { Lease, LeaseTable } from './lease-table.ts';

export interface Reply {
  packet: Buffer;
  address: string;
  port: number;
  /**
   * For a limited broadcast (255.255.255.255): the local address whose interface it must
   * leave by — the server identifier of the network the request came from.
   */
  via?: string;
  /** An ACK that binds a lease: it may leave only once the lease is on disk. */
  afterLeaseWrite?: boolean;
  /** What the reply is, to whom and which address it gives: for the service's counters and log. */
  kind: 'offer' | 'ack' | 'nak';
  mac: string;
  /** yiaddr: the address offered or bound (0.0.0.0 for an INFORM's ACK and a NAK). */
  yiaddr: string;
}

export interface ResponderOptions {
  settings: DhcpSettings;
  leases: LeaseTable;
  desiredState(): SiteDesiredState;
  report(kind: string, payload: Record<string, unknown>): void;
  /** Local IPv4 addresses that may face clients (the configured interfaces, or every local address). */
  localAddresses(): string[];
  now(): number;
  /** Bound leases changed: persist them. */
  onLeasesChanged(): void;
  /** An unexpected error while answering a well-formed packet; the packet is dropped. */
  onError(err: unknown, mac: string | undefined): void;
  /** A PXE or iPXE client sent a DISCOVER or REQUEST: the machine is up and booting (answered or not). */
  onBootingClient?(mac: string): void;
}

type Network = NonNullable<SiteDesiredState['networks']>[number];
type Reservation = NonNullable<SiteDesiredState['reservations']>[number];
type BootIntent = NonNullable<SiteDesiredState['bootIntents']>[number];

interface ServedNetwork {
  network: Network;
  subnet: Ipv4Subnet;
  ranges: { start: number; end: number }[];
  /** Where the next dynamic search starts, so a flood does not rescan the taken prefix. */
  cursor: number;
  /**
   * A full scan found nothing: when, and the lease table's `freed` count then. A flood
   * against a full range must not rescan it per packet, but an address freed since (a
   * release, an expiry) is offered at once.
   */
  exhausted?: { at: number; freed: number };
}

interface SiteIndex {
  networks: ServedNetwork[];
  reservations: Map<string, Reservation[]>;
  /** network id → reserved address → MAC. */
  reserved: Map<string, Map<string, string>>;
  bootIntents: Map<string, BootIntent>;
}

interface Scope {
  served: ServedNetwork;
  serverId: string;
  relayed: boolean;
}

const broadcastFlag = 0x8000;
const limitedBroadcast = '255.255.255.255';
const reportWindowMs = 60_000;
const reportMemory = 4096;
/** MACs whose last bound report is remembered; forgetting one only costs a repeated report. */
const reportedBoundMemory = 65_536;
const exhaustedRescanMs = 1000;
const zero = '0.0.0.0';

function isIpxe(userClass: Buffer | undefined): boolean {
  if (!userClass) return false;
  // iPXE sends the bare string; RFC 3004 clients prefix each class with its length.
  return userClass.toString('latin1') === 'iPXE' || (userClass[0] === 4 && userClass.subarray(1, 5).toString('latin1') === 'iPXE');
}

/** Network boot firmware: vendor class PXEClient. */
function isPxeFirmware(message: DhcpMessage): boolean {
  return readOption.text(message.options.get(opt.vendorClass))?.startsWith('PXEClient') ?? false;
}

/** A network boot firmware or iPXE asking. */
function isBootingClient(message: DhcpMessage): boolean {
  return isPxeFirmware(message) || isIpxe(message.options.get(opt.userClass));
}

function formatUuid(option: Buffer | undefined): string | undefined {
  // RFC 4578 §2.3: type 0 followed by the 16-byte machine identifier.
  if (option?.length !== 17 || option[0] !== 0) return undefined;
  const hex = option.subarray(1).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const messageTypeNames: Record<number, string> = {
  [messageTypes.discover]: 'discover',
  [messageTypes.request]: 'request',
  [messageTypes.decline]: 'decline',
  [messageTypes.release]: 'release',
  [messageTypes.inform]: 'inform',
};

export class DhcpResponder {
  readonly counters = {
    received: 0,
    answered: 0,
    malformed: 0,
    /** Unknown MACs turned away because too many of their offers were outstanding. */
    floodDropped: 0,
    errors: 0,
    ignored: {} as Record<string, number>,
    /** Client messages answered or ignored, by DHCP message type (replies are counted when sent, by the service). */
    messages: { discover: 0, request: 0, decline: 0, release: 0, inform: 0 } as Record<string, number>,
  };
  private indexed?: { state: SiteDesiredState; index: SiteIndex };
  private readonly reported = new Map<string, number>();
  /** The last `bound` report per MAC, to leave out re-binds that tell the control plane nothing new. */
  private readonly reportedBound = new Map<string, Lease>();

  constructor(private readonly options: ResponderOptions) {}

  /** One datagram in, zero or more replies out. Never throws. */
  handle(packet: Buffer, from: { address: string; port: number }): Reply[] {
    this.counters.received += 1;
    let message: DhcpMessage;
    try {
      message = decodeDhcp(packet);
    } catch (err) {
      if (!(err instanceof MalformedDhcpPacket)) this.options.onError(err, undefined);
      this.counters.malformed += 1;
      return [];
    }
    const mac = clientMac(message);
    try {
      const replies = this.answer(message, mac, from);
      this.counters.answered += replies.length;
      return replies;
    } catch (err) {
      this.counters.errors += 1;
      this.options.onError(err, mac);
      return [];
    }
  }

  /** Expires leases; reports each bound lease that lapsed. */
  sweep(): void {
    const expired = this.options.leases.sweep();
    for (const lease of expired) this.reportLease(lease, 'expired');
    if (expired.length > 0) this.options.onLeasesChanged();
  }

  private ignore(reason: string): Reply[] {
    this.counters.ignored[reason] = (this.counters.ignored[reason] ?? 0) + 1;
    return [];
  }

  private answer(message: DhcpMessage, mac: string | undefined, from: { address: string; port: number }): Reply[] {
    if (message.op !== bootRequest) return this.ignore('not-a-request');
    if (mac === undefined) return this.ignore('not-ethernet');
    const type = messageType(message);
    if (type === undefined) return this.ignore('bootp');
    if ((type === messageTypes.discover || type === messageTypes.request) && this.options.onBootingClient && isBootingClient(message))
      this.options.onBootingClient(mac);
    const typeName = messageTypeNames[type];
    if (typeName) this.counters.messages[typeName] += 1;
    const scope = this.scopeFor(message, mac);
    if (!scope) return this.ignore('no-network');
    switch (type) {
      case messageTypes.discover:
        return this.discover(message, mac, scope);
      case messageTypes.request:
        return this.request(message, mac, scope);
      case messageTypes.decline:
        return this.decline(message, mac, scope);
      case messageTypes.release:
        return this.release(message, mac, scope);
      case messageTypes.inform:
        return this.inform(message, mac, scope, from);
      default:
        return this.ignore('not-a-client-message');
    }
  }

  private index(): SiteIndex {
    const state = this.options.desiredState();
    if (this.indexed?.state === state) return this.indexed.index;
    const networks: ServedNetwork[] = [];
    for (const network of state.networks ?? []) {
      try {
        const subnet = parseCidr(network.cidr);
        if (!subnet) throw new TypeError(`${JSON.stringify(network.cidr)} is not an IPv4 CIDR`);
        const ranges = network.ranges.filter((r) => r.kind === 'dynamic').map((r) => ({ start: ipv4ToInt(r.start), end: ipv4ToInt(r.end) }));
        // Only what the wire can carry: an IPv6 DNS server must not stop the network's IPv4 clients.
        const usable = {
          ...network,
          gateway: isIpv4(network.gateway ?? '') ? network.gateway : '',
          dnsServers: (network.dnsServers ?? []).filter((d) => isIpv4(d)),
        };
        networks.push({ network: usable, subnet, ranges: ranges.filter((r) => r.start <= r.end), cursor: ranges[0]?.start ?? 0 });
      } catch {
        // A network the control plane described badly is not served; the others still are.
        this.reportOnce(`bad-network:${network.id}`, 'dhcp.network-unusable', { networkId: network.id, cidr: network.cidr });
      }
    }
    const reservations = new Map<string, Reservation[]>();
    const reserved = new Map<string, Map<string, string>>();
    for (const reservation of state.reservations ?? []) {
      const mac = parseMac(reservation.mac);
      const served = networks.find((n) => n.network.id === reservation.networkId);
      const reason = !mac
        ? 'bad-mac'
        : !isIpv4(reservation.address)
          ? 'bad-address'
          : !served
            ? 'unknown-network'
            : !cidrContains(served.subnet, ipv4ToInt(reservation.address))
              ? 'address-outside-network'
              : undefined;
      if (reason || !mac) {
        this.reportOnce(`bad-reservation:${reservation.mac}:${reservation.networkId}`, 'dhcp.reservation-unusable', {
          mac: reservation.mac,
          networkId: reservation.networkId,
          address: reservation.address,
          reason,
        });
        continue;
      }
      reservations.set(mac, [...(reservations.get(mac) ?? []), reservation]);
      const inNetwork = reserved.get(reservation.networkId) ?? new Map<string, string>();
      inNetwork.set(reservation.address, mac);
      reserved.set(reservation.networkId, inNetwork);
    }
    const bootIntents = new Map<string, BootIntent>();
    for (const intent of state.bootIntents ?? []) {
      const mac = parseMac(intent.mac);
      if (mac) bootIntents.set(mac, intent);
    }
    const index = { networks, reservations, reserved, bootIntents };
    this.indexed = { state, index };
    return index;
  }

  private scopeFor(message: DhcpMessage, mac: string): Scope | undefined {
    const { networks, reservations } = this.index();
    if (message.giaddr !== zero) {
      const relay = ipv4ToInt(message.giaddr);
      const served = networks.find((n) => cidrContains(n.subnet, relay));
      if (!served) return undefined;
      const serverId = this.localAddressIn(served) ?? this.options.settings.serverId ?? this.fallbackServerId();
      return serverId ? { served, serverId, relayed: true } : undefined;
    }
    // Directly attached: the networks our provisioning interfaces sit in.
    const attached: Scope[] = [];
    for (const local of this.options.localAddresses()) {
      const served = networks.find((n) => cidrContains(n.subnet, ipv4ToInt(local)));
      if (served) attached.push({ served, serverId: local, relayed: false });
    }
    const mine = reservations.get(mac) ?? [];
    return attached.find((s) => mine.some((r) => r.networkId === s.served.network.id)) ?? attached.find((s) => s.served.ranges.length > 0) ?? attached[0];
  }

  private localAddressIn(served: ServedNetwork): string | undefined {
    return this.options.localAddresses().find((a) => cidrContains(served.subnet, ipv4ToInt(a)));
  }

  private fallbackServerId(): string | undefined {
    const { address } = this.options.settings;
    return address !== zero ? address : this.options.localAddresses()[0];
  }

  private reservationIn(mac: string, scope: Scope): Reservation | undefined {
    return this.index()
      .reservations.get(mac)
      ?.find((r) => r.networkId === scope.served.network.id);
  }

  /** The address this MAC gets in this network, or why it gets none. */
  private addressFor(mac: string, scope: Scope, requested: string | undefined): { address?: string; dynamic: boolean; refusal?: string } {
    const { leases } = this.options;
    const reservation = this.reservationIn(mac, scope);
    if (reservation) {
      const holder = leases.holder(reservation.address);
      if (holder !== undefined && holder !== mac) {
        this.reportOnce(`conflict:${mac}`, 'dhcp.address-conflict', { mac, networkId: scope.served.network.id, address: reservation.address, heldBy: holder });
        return { dynamic: false, refusal: 'reserved-address-held' };
      }
      if (leases.isQuarantined(reservation.address)) {
        this.reportOnce(`quarantined:${mac}`, 'dhcp.address-conflict', {
          mac,
          networkId: scope.served.network.id,
          address: reservation.address,
          quarantined: true,
        });
        return { dynamic: false, refusal: 'reserved-address-quarantined' };
      }
      return { address: reservation.address, dynamic: false };
    }
    const current = leases.get(mac);
    if (current && current.networkId === scope.served.network.id && current.dynamic) return { address: current.address, dynamic: true };
    const { served } = scope;
    if (served.ranges.length === 0) return { dynamic: true, refusal: 'no-dynamic-range' };
    if (requested !== undefined && this.isFreeDynamic(served, ipv4ToInt(requested))) return { address: requested, dynamic: true };
    const found = this.nextFreeDynamic(served);
    return found === undefined ? { dynamic: true, refusal: 'dynamic-range-exhausted' } : { address: found, dynamic: true };
  }

  private isFreeDynamic(served: ServedNetwork, candidate: number, locals: string[] = this.options.localAddresses()): boolean {
    if (!served.ranges.some((r) => candidate >= r.start && candidate <= r.end)) return false;
    const { subnet, network } = served;
    if (!cidrContains(subnet, candidate) || (subnet.prefix < 31 && (candidate === subnet.network || candidate === subnet.broadcast))) return false;
    const address = formatIpv4(candidate);
    if (address === network.gateway || locals.includes(address)) return false;
    if (this.index().reserved.get(network.id)?.has(address)) return false;
    return this.options.leases.holder(address) === undefined && !this.options.leases.isQuarantined(address);
  }

  private nextFreeDynamic(served: ServedNetwork): string | undefined {
    const now = this.options.now();
    const { exhausted } = served;
    if (exhausted && exhausted.freed === this.options.leases.freed && now - exhausted.at < exhaustedRescanMs) return undefined;
    const locals = this.options.localAddresses();
    const total = served.ranges.reduce((sum, r) => sum + (r.end - r.start + 1), 0);
    // Walk the ranges once, starting at the cursor, wrapping around.
    const ordered = served.ranges.flatMap((r) => (served.cursor >= r.start && served.cursor <= r.end ? [{ start: served.cursor, end: r.end }] : []));
    const all = [...ordered, ...served.ranges];
    let visited = 0;
    for (const range of all) {
      for (let candidate = range.start; candidate <= range.end && visited <= total; candidate += 1, visited += 1) {
        if (this.isFreeDynamic(served, candidate, locals)) {
          served.cursor = candidate + 1;
          served.exhausted = undefined;
          return formatIpv4(candidate);
        }
      }
    }
    served.exhausted = { at: now, freed: this.options.leases.freed };
    return undefined;
  }

  private discover(message: DhcpMessage, mac: string, scope: Scope): Reply[] {
    const { leases, settings } = this.options;
    const known = this.reservationIn(mac, scope) !== undefined;
    if (!known && !leases.get(mac) && leases.pendingUnknownOffers() >= settings.maxPendingUnknownOffers) {
      this.counters.floodDropped += 1;
      return [];
    }
    const requested = readOption.address(message.options.get(opt.requestedAddress));
    const choice = this.addressFor(mac, scope, requested);
    if (!known) this.reportOnce(`unknown:${mac}`, 'dhcp.unknown-mac', { mac, networkId: scope.served.network.id, offered: choice.address ?? null });
    if (!choice.address) return this.ignore(choice.refusal ?? 'no-address');
    const boot = this.bootOptions(message, mac, scope, true);
    const existing = leases.get(mac);
    if (!(existing?.state === 'bound' && existing.address === choice.address)) {
      leases.put({
        mac,
        address: choice.address,
        networkId: scope.served.network.id,
        state: 'offered',
        expiresAt: this.options.now() + settings.offerSeconds * 1000,
        dynamic: choice.dynamic,
        ...(boot.uuid ? { uuid: boot.uuid } : {}),
      });
    }
    return [this.reply(message, scope, messageTypes.offer, choice.address, boot)];
  }

  private request(message: DhcpMessage, mac: string, scope: Scope): Reply[] {
    const { leases, settings } = this.options;
    const serverId = readOption.address(message.options.get(opt.serverId));
    if (serverId !== undefined && serverId !== scope.serverId) {
      // The client took another server's offer: release ours.
      if (leases.get(mac)?.state === 'offered') leases.remove(mac);
      return this.ignore('other-server');
    }
    const requested = readOption.address(message.options.get(opt.requestedAddress)) ?? (message.ciaddr !== zero ? message.ciaddr : undefined);
    if (requested === undefined) return this.ignore('no-requested-address');
    const choice = this.addressFor(mac, scope, requested);
    if (choice.address !== requested) {
      const outside = !cidrContains(scope.served.subnet, ipv4ToInt(requested));
      if (serverId !== undefined || choice.address !== undefined || outside) return [this.nak(message, scope, `${requested} is not yours`)];
      return this.ignore(choice.refusal ?? 'not-ours');
    }
    const boot = this.bootOptions(message, mac, scope, false);
    const seconds = boot.firmware ? settings.pxeLeaseSeconds : settings.leaseSeconds;
    const reservation = this.reservationIn(mac, scope);
    const hostname = reservation?.hostname ?? this.index().bootIntents.get(mac)?.hostname;
    const lease: Lease = {
      mac,
      address: requested,
      networkId: scope.served.network.id,
      state: 'bound',
      expiresAt: this.options.now() + seconds * 1000,
      dynamic: choice.dynamic,
      ...((boot.uuid ?? leases.get(mac)?.uuid) ? { uuid: boot.uuid ?? leases.get(mac)?.uuid } : {}),
      ...(hostname ? { hostname } : {}),
    };
    leases.put(lease);
    if (this.bindIsNews(lease, seconds)) this.reportLease(lease, 'bound');
    this.options.onLeasesChanged();
    return [{ ...this.reply(message, scope, messageTypes.ack, requested, boot, seconds), afterLeaseWrite: true }];
  }

  private decline(message: DhcpMessage, mac: string, scope: Scope): Reply[] {
    const serverId = readOption.address(message.options.get(opt.serverId));
    if (serverId !== undefined && serverId !== scope.serverId) return this.ignore('other-server');
    const address = readOption.address(message.options.get(opt.requestedAddress));
    const lease = this.options.leases.get(mac);
    if (!address || lease?.address !== address) return this.ignore('decline-not-ours');
    this.options.leases.remove(mac);
    this.options.leases.quarantine(address, this.options.now() + this.options.settings.declineQuarantineSeconds * 1000);
    this.reportLease(lease, 'declined');
    this.options.report('dhcp.address-conflict', { mac, networkId: lease.networkId, address, declined: true });
    this.options.onLeasesChanged();
    return [];
  }

  private release(message: DhcpMessage, mac: string, scope: Scope): Reply[] {
    const serverId = readOption.address(message.options.get(opt.serverId));
    if (serverId !== undefined && serverId !== scope.serverId) return this.ignore('other-server');
    const lease = this.options.leases.get(mac);
    if (lease?.address !== message.ciaddr) return this.ignore('release-not-ours');
    this.options.leases.remove(mac);
    this.reportLease(lease, 'released');
    this.options.onLeasesChanged();
    return [];
  }

  private inform(message: DhcpMessage, mac: string, scope: Scope, from: { address: string }): Reply[] {
    const boot = this.bootOptions(message, mac, scope, false);
    const reply = this.reply(message, scope, messageTypes.ack, zero, boot, undefined);
    // RFC 2131 §4.3.5: the answer goes to ciaddr, whatever the source address was.
    if (!scope.relayed && message.ciaddr === zero) {
      reply.address = from.address;
      delete reply.via;
    }
    return [reply];
  }

  private bootOptions(message: DhcpMessage, mac: string, scope: Scope, announce: boolean): BootDecision {
    const firmware = isPxeFirmware(message);
    const ipxe = isIpxe(message.options.get(opt.userClass));
    const uuid = formatUuid(message.options.get(opt.clientUuid));
    if (!firmware && !ipxe) return { firmware, uuid };
    const networkId = scope.served.network.id;
    const refuse = (reason: string, extra: Record<string, unknown> = {}): BootDecision => {
      if (announce) this.reportOnce(`netboot:${mac}:${reason}`, 'dhcp.netboot-refused', { mac, networkId, reason, ...extra });
      return { firmware, uuid };
    };
    const reservation = this.reservationIn(mac, scope);
    if (!reservation) return refuse('no-reservation');
    if (!reservation.netboot) return refuse('netboot-disabled');
    const intent = this.index().bootIntents.get(mac);
    if (!intent) return refuse('no-boot-intent');
    const arch = readOption.u16List(message.options.get(opt.clientArch))?.[0] ?? (intent.bootMode === 'bios' ? 0 : intent.arch === 'arm64' ? 11 : 7);
    const { settings } = this.options;
    const nextServer = settings.nextServer ?? scope.serverId;
    let bootFile: string;
    if (ipxe) {
      bootFile = `${this.httpBootBase(scope.serverId)}/boot/ipxe?mac=${mac}`;
    } else {
      const file = settings.bootFiles[arch];
      if (!file) return refuse('unsupported-arch', { arch });
      bootFile = file;
    }
    return { firmware, ipxe, uuid, boot: { nextServer, bootFile } };
  }

  /**
   * httpBootUrl, else where this agent's HTTP service listens: its baseUrl, or its address
   * (the server identifier when it listens on every address) and port — 8080 by default.
   */
  private httpBootBase(serverId: string): string {
    const { httpBootUrl, httpService } = this.options.settings;
    if (httpBootUrl) return httpBootUrl;
    if (httpService.baseUrl) return httpService.baseUrl;
    return `http://${httpService.host ?? serverId}${httpService.port === 80 ? '' : `:${httpService.port}`}`;
  }

  private reply(request: DhcpMessage, scope: Scope, type: number, yiaddr: string, decision: BootDecision, leaseSeconds?: number): Reply {
    const { network, subnet } = scope.served;
    const reply = this.replyHeader(request);
    reply.yiaddr = yiaddr;
    if (type === messageTypes.ack) reply.ciaddr = request.ciaddr;
    const o = reply.options;
    o.set(opt.messageType, encodeOption.u8(type));
    o.set(opt.serverId, encodeOption.addresses([scope.serverId]));
    const seconds =
      leaseSeconds ??
      (type === messageTypes.offer ? (decision.firmware ? this.options.settings.pxeLeaseSeconds : this.options.settings.leaseSeconds) : undefined);
    if (seconds !== undefined) {
      o.set(opt.leaseTime, encodeOption.u32(seconds));
      o.set(opt.renewalTime, encodeOption.u32(Math.floor(seconds / 2)));
      o.set(opt.rebindingTime, encodeOption.u32(Math.floor((seconds * 7) / 8)));
    }
    o.set(opt.subnetMask, encodeOption.u32(subnet.mask));
    o.set(opt.broadcastAddress, encodeOption.addresses([formatIpv4(subnet.broadcast)]));
    if (network.gateway) o.set(opt.router, encodeOption.addresses([network.gateway]));
    if (network.dnsServers.length > 0) o.set(opt.dnsServers, encodeOption.addresses(network.dnsServers.slice(0, 63)));
    if (network.domain) o.set(opt.domainName, encodeOption.text(network.domain.slice(0, 255)));
    const mac = clientMac(request)!;
    const hostname = this.reservationIn(mac, scope)?.hostname ?? this.index().bootIntents.get(mac)?.hostname;
    if (hostname) o.set(opt.hostname, encodeOption.text(hostname.slice(0, 255)));
    if (decision.boot) {
      reply.siaddr = decision.boot.nextServer;
      if (Buffer.byteLength(decision.boot.bootFile, 'latin1') < 128) reply.file = decision.boot.bootFile;
      if (decision.firmware) {
        o.set(opt.vendorClass, encodeOption.text('PXEClient'));
        // PXE discovery control = 8: boot from the file we name, skip boot server discovery.
        o.set(opt.vendorSpecific, Buffer.from([6, 1, 8, 255]));
      }
      o.set(opt.tftpServerName, encodeOption.text(decision.boot.nextServer));
      o.set(opt.bootFileName, encodeOption.text(decision.boot.bootFile.slice(0, 255)));
      // iPXE's no-pxedhcp (175.176 = 1): do not wait for a ProxyDHCP offer.
      if (decision.ipxe) o.set(opt.ipxeEncapsulated, Buffer.from([176, 1, 1]));
    }
    this.echoRelayInfo(request, reply);
    return {
      packet: encodeDhcp(reply),
      ...this.destination(request, scope),
      kind: type === messageTypes.offer ? 'offer' : 'ack',
      mac: clientMac(request) ?? '',
      yiaddr,
    };
  }

  private nak(request: DhcpMessage, scope: Scope, why: string): Reply {
    const reply = this.replyHeader(request);
    reply.options.set(opt.messageType, encodeOption.u8(messageTypes.nak));
    reply.options.set(opt.serverId, encodeOption.addresses([scope.serverId]));
    reply.options.set(opt.message, encodeOption.text(why.slice(0, 255)));
    this.echoRelayInfo(request, reply);
    if (scope.relayed) reply.flags |= broadcastFlag;
    const { port } = this.destination(request, scope);
    // RFC 2131 §4.1: a NAK goes to the relay, or is broadcast to 255.255.255.255; never unicast to ciaddr.
    const to = scope.relayed ? { address: request.giaddr } : { address: limitedBroadcast, via: scope.serverId };
    return { packet: encodeDhcp(reply), port, ...to, kind: 'nak', mac: clientMac(request) ?? '', yiaddr: zero };
  }

  private replyHeader(request: DhcpMessage): DhcpMessage {
    const reply = blankMessage(bootReply);
    reply.htype = request.htype;
    reply.hlen = request.hlen;
    reply.xid = request.xid;
    reply.flags = request.flags & broadcastFlag;
    reply.giaddr = request.giaddr;
    reply.chaddr = Buffer.from(request.chaddr);
    return reply;
  }

  private echoRelayInfo(request: DhcpMessage, reply: DhcpMessage): void {
    const info = request.options.get(opt.relayAgentInfo);
    if (info) reply.options.set(opt.relayAgentInfo, info);
  }

  /**
   * RFC 2131 §4.1: giaddr set → the relay (server port); ciaddr set → unicast to ciaddr;
   * otherwise the client has no address yet. With its broadcast flag set it accepts only
   * 255.255.255.255 (UEFI PXE firmware drops a subnet broadcast); without it the RFC asks
   * for a unicast to yiaddr, which needs an ARP entry written by hand (raw sockets, not
   * Node's), and allows the limited broadcast instead — which every client accepts.
   */
  private destination(request: DhcpMessage, scope: Scope): { address: string; port: number; via?: string } {
    const { settings } = this.options;
    if (scope.relayed) return { address: request.giaddr, port: settings.relayPort };
    if (request.ciaddr !== zero) return { address: request.ciaddr, port: settings.clientPort };
    return { address: limitedBroadcast, port: settings.clientPort, via: scope.serverId };
  }

  /**
   * A PXE machine binds its address twice per boot (firmware, then iPXE) and again on
   * every retried boot; each report is a row the control plane processes in turn. The
   * same MAC, address, network, host name and UUID is reported again only once its
   * expiry moved by half a lease or more — so the control plane's expiry is never in the
   * past while the lease lives, and a rack rebooting in a loop is not a report storm.
   */
  private bindIsNews(lease: Lease, leaseSeconds: number): boolean {
    const last = this.reportedBound.get(lease.mac);
    if (
      last &&
      last.address === lease.address &&
      last.networkId === lease.networkId &&
      last.hostname === lease.hostname &&
      last.uuid === lease.uuid &&
      lease.expiresAt - last.expiresAt < (leaseSeconds * 1000) / 2
    ) {
      return false;
    }
    if (this.reportedBound.size >= reportedBoundMemory) this.reportedBound.clear();
    this.reportedBound.set(lease.mac, { ...lease });
    return true;
  }

  private reportLease(lease: Lease, state: 'bound' | 'released' | 'expired' | 'declined'): void {
    if (state !== 'bound') this.reportedBound.delete(lease.mac);
    this.options.report('dhcp.lease', {
      mac: lease.mac,
      address: lease.address,
      networkId: lease.networkId,
      state,
      expiresAt: new Date(lease.expiresAt).toISOString(),
      uuid: lease.uuid ?? null,
      hostname: lease.hostname ?? null,
    });
  }

  /** At most one report per key a minute: a client retrying every few seconds is one event. */
  private reportOnce(key: string, kind: string, payload: Record<string, unknown>): void {
    const now = this.options.now();
    const last = this.reported.get(key);
    if (last !== undefined && now - last < reportWindowMs) return;
    if (this.reported.size >= reportMemory) this.reported.clear();
    this.reported.set(key, now);
    this.options.report(kind, payload);
  }
}

interface BootDecision {
  /** PXE firmware (vendor class PXEClient): short lease, option 60 echoed. */
  firmware: boolean;
  ipxe?: boolean;
  uuid?: string;
  boot?: { nextServer: string; bootFile: string };
}
