/**
 * The site agent's `dhcp` service: Sprout's DHCPv4 server on a UDP socket, answering
 * from the desired state through DhcpResponder and keeping leases in
 * `<dataDir>/dhcp/leases.json`. Nothing here decides an answer; it only moves bytes,
 * persists, sweeps expired leases, reports health and answers the agent's lease lookups.
 * An ACK never leaves before its lease is on disk.
 */
import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { AgentServiceContext, AgentServiceFactory, RunningAgentService, SiteDesiredState } from '@sprout/kernel/sdk';
import { parseDhcpSettings } from './dhcp-settings.ts';
import { DhcpResponder, type Reply } from './dhcp-responder.ts';
import { LeaseFile } from './lease-file.ts';
import { LeaseTable } from './lease-table.ts';

export interface DhcpServiceOptions {
  /** Milliseconds since the epoch; tests move it to expire leases. */
  now?: () => number;
  /** Local IPv4 addresses when `interfaces` is not set; the host's by default. */
  hostAddresses?: () => string[];
}

const sweepIntervalMs = 10_000;
/** Journal entries after which the snapshot is rewritten and the journal started again. */
const compactAfterChanges = 20_000;
const limitedBroadcast = '255.255.255.255';
const hostAddressTtlMs = 10_000;
/**
 * Asked for the socket's receive buffer: a burst of DISCOVERs (a rack powering on) waits
 * there while a lease file write runs, instead of being dropped. The kernel caps it at
 * net.core.rmem_max, which a busy site may raise.
 */
const receiveBufferBytes = 4 * 1024 * 1024;

function hostIPv4Addresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((addresses) => addresses ?? [])
    .filter((a) => a.family === 'IPv4')
    .map((a) => a.address);
}

/** Builds the `dhcp` service with injectable time and address discovery (the plugin exports `dhcpService`). */
export function createDhcpService(options: DhcpServiceOptions = {}): AgentServiceFactory {
  return async (ctx: AgentServiceContext): Promise<RunningAgentService> => {
    const settings = parseDhcpSettings(ctx.settings, ctx.services);
    if (!settings.httpBootUrl && ctx.services && !ctx.services.http) {
      ctx.logger.warn(
        { httpBoot: settings.httpService },
        'DHCP: this agent runs no http service and services.dhcp.httpBootUrl is not set; iPXE is sent to the default port of the http service on the server identifier',
      );
    }
    const now = options.now ?? Date.now;
    const leaseFilePath = join(ctx.dataDir, 'dhcp', 'leases.json');
    const leaseFile = new LeaseFile(leaseFilePath);
    const leases = new LeaseTable(now);
    leases.restore(leaseFile.read());
    await leaseFile.compact(leases.snapshot());

    let lastError: string | null = null;
    let send: (reply: Reply) => void = () => undefined;
    /** ACKs waiting for their leases to reach the disk. */
    let waitingAcks: Reply[] = [];
    let commitQueued: NodeJS.Immediate | undefined;
    let committing: Promise<void> | undefined;
    let commits = 0;
    const commit = async (): Promise<void> => {
      commitQueued = undefined;
      const changes = leases.takeChanges();
      const acks = waitingAcks;
      waitingAcks = [];
      try {
        await leaseFile.append(changes);
        commits += 1;
        for (const ack of acks) send(ack);
        if (leaseFile.journalLength >= compactAfterChanges) await leaseFile.compact(leases.snapshot());
      } catch (err) {
        // Not on disk, so not acknowledged: the clients retry their REQUEST, and the changes go again.
        leases.returnChanges(changes);
        lastError = `writing ${leaseFilePath}: ${(err as Error).message}`;
        ctx.logger.error(
          { err: (err as Error).message, file: leaseFilePath, acksHeld: acks.length },
          'could not persist DHCP leases; their ACKs were not sent',
        );
      }
    };
    let stopped = false;
    /**
     * Group commit without a wait: a commit starts once the datagrams already received
     * are handled (setImmediate runs after the poll phase), so an idle server pays one
     * fdatasync per ACK and nothing more. The leases bound while a commit is on its way
     * to the disk go together in the next one, started as soon as it ends: under load,
     * one fdatasync covers every ACK that queued up behind the previous one.
     */
    const scheduleCommit = (): void => {
      if (commitQueued || committing || stopped) return;
      commitQueued = setImmediate(() => {
        committing = commit().finally(() => {
          committing = undefined;
          if (waitingAcks.length > 0 || leases.hasChanges()) scheduleCommit();
        });
      });
    };

    let hostAddresses: { at: number; list: string[] } | undefined;
    const localAddresses = (): string[] => {
      if (settings.interfaces.length > 0) return settings.interfaces;
      const at = Date.now();
      if (!hostAddresses || at - hostAddresses.at > hostAddressTtlMs) hostAddresses = { at, list: (options.hostAddresses ?? hostIPv4Addresses)() };
      return hostAddresses.list;
    };

    const responder = new DhcpResponder({
      settings,
      leases,
      now,
      desiredState: () => ctx.desiredState(),
      report: (kind, payload) => ctx.report(kind, payload),
      localAddresses,
      onLeasesChanged: scheduleCommit,
      onError: (err, mac) => {
        lastError = (err as Error).message;
        ctx.logger.error({ err: (err as Error).message, mac }, 'DHCP packet could not be answered');
      },
      // A manual power-on ends when the machine is seen booting.
      onBootingClient: (mac) => ctx.sightings?.seen(mac, 'dhcp'),
    });

    // HTTP boot hands a machine its per-boot token only at the address leased here.
    const boundAddress = (mac: string): string | undefined => {
      const lease = leases.get(mac);
      return lease?.state === 'bound' ? lease.address : undefined;
    };
    const withdrawLeases = ctx.leases?.provide({
      addressOf: (mac) => boundAddress(mac.toLowerCase()),
      macAt: (address) => {
        const mac = leases.holder(address);
        return mac !== undefined && boundAddress(mac) === address ? mac : undefined;
      },
    });
    const receive = (packet: Buffer, from: { address: string; port: number }): void => {
      for (const reply of responder.handle(packet, from)) {
        if (reply.afterLeaseWrite) {
          waitingAcks.push(reply);
          scheduleCommit();
        } else send(reply);
      }
    };
    const socket: Socket = createSocket({ type: 'udp4', reuseAddr: true, recvBufferSize: receiveBufferBytes });
    // A reservation that leaves the desired state (the machine was released or deleted) takes
    // its lease with it: the address is free for the next machine at once, instead of being
    // held for the rest of the lease while the control plane hands it out again.
    const reservedAddress = (state: SiteDesiredState) => new Map((state.reservations ?? []).map((r) => [`${r.mac} ${r.networkId}`, r.address]));
    let reservedBefore = reservedAddress(ctx.desiredState());
    ctx.onDesiredState((state) => {
      const reservedNow = reservedAddress(state);
      for (const [key, address] of reservedBefore) {
        if (reservedNow.has(key)) continue;
        const [mac, networkId] = key.split(' ');
        const lease = leases.get(mac);
        if (!lease || lease.address !== address || lease.networkId !== networkId || lease.dynamic) continue;
        leases.remove(mac);
        ctx.logger.info({ mac, address }, 'released the lease of a reservation that left the desired state');
        ctx.report('dhcp.lease', {
          mac,
          address,
          networkId,
          state: 'released',
          expiresAt: new Date(now()).toISOString(),
          uuid: lease.uuid ?? null,
          hostname: lease.hostname ?? null,
        });
      }
      reservedBefore = reservedNow;
      scheduleCommit();
    });
    socket.on('message', receive);
    socket.on('error', (err) => {
      lastError = err.message;
      ctx.logger.error({ err: err.message }, 'DHCP socket error');
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(settings.port, settings.address, () => {
        socket.off('error', reject);
        resolve();
      });
    }).catch((err) => {
      withdrawLeases?.();
      throw err;
    });
    socket.setBroadcast(true);
    const bound = socket.address();

    /**
     * 255.255.255.255 from a socket bound to 0.0.0.0 follows the default route (or fails
     * with ENETUNREACH without one); from a socket bound to an interface's address Linux
     * sends it out of that interface. So each provisioning address gets its own socket on
     * the server port (SO_REUSEADDR beside the 0.0.0.0 one). Unicast to that address now
     * arrives there, so it is answered too.
     */
    const broadcasters = new Map<string, Promise<Socket>>();
    const broadcasterFor = (local: string): Promise<Socket> => {
      if (local === bound.address) return Promise.resolve(socket);
      let found = broadcasters.get(local);
      if (!found) {
        found = new Promise<Socket>((resolve, reject) => {
          const s = createSocket({ type: 'udp4', reuseAddr: true, recvBufferSize: receiveBufferBytes });
          s.once('error', reject);
          s.bind(bound.port, local, () => {
            s.off('error', reject);
            s.setBroadcast(true);
            s.on('message', receive);
            s.on('error', (err) => {
              lastError = err.message;
              ctx.logger.error({ err: err.message, address: local }, 'DHCP socket error');
            });
            resolve(s);
          });
        });
        // A failed bind (the address went away) is tried again on the next broadcast.
        found.catch(() => broadcasters.delete(local));
        broadcasters.set(local, found);
      }
      return found;
    };
    const failed = (reply: Reply) => (err: Error | null) => {
      if (!err) return;
      lastError = `sending to ${reply.address}:${reply.port}${reply.via ? ` by ${reply.via}` : ''}: ${err.message}`;
      ctx.logger.warn({ err: err.message, to: reply.address, via: reply.via }, 'DHCP reply could not be sent');
    };
    /** Replies handed to the socket, by type; with the responder's client messages they are `messages` in health (and the agent's metrics). */
    const sent = { offer: 0, ack: 0, nak: 0 };
    send = (reply) => {
      sent[reply.kind] += 1;
      // One line per answer an operator follows a boot by: which MAC got which address.
      if (reply.kind === 'nak') ctx.logger.info({ mac: reply.mac, to: reply.address }, 'DHCP nak');
      else if (reply.yiaddr !== '0.0.0.0') ctx.logger.info({ mac: reply.mac, address: reply.yiaddr }, `DHCP ${reply.kind}`);
      if (reply.address !== limitedBroadcast || !reply.via) return void socket.send(reply.packet, reply.port, reply.address, failed(reply));
      broadcasterFor(reply.via).then(
        (s) => s.send(reply.packet, reply.port, reply.address, failed(reply)),
        (err: Error) => failed(reply)(new Error(`no socket on ${reply.via}:${bound.port} for the broadcast: ${err.message}`)),
      );
    };
    // The configured provisioning addresses: a mistake shows at start, not at the first client.
    for (const local of settings.interfaces)
      await broadcasterFor(local).catch((err: Error) => {
        lastError = `binding ${local}:${bound.port}: ${err.message}`;
        ctx.logger.error({ err: err.message, address: local }, 'DHCP: cannot bind a provisioning address; broadcasts to its clients will fail');
      });
    ctx.logger.info({ address: bound.address, port: bound.port, interfaces: settings.interfaces }, 'DHCP server listening');

    const sweeper = setInterval(() => responder.sweep(), sweepIntervalMs);
    sweeper.unref();

    return {
      health() {
        const counts = leases.counts();
        return {
          listening: `${bound.address}:${bound.port}`,
          // The networks this agent answers DHCP for now (from the site's desired state).
          scopes: (ctx.desiredState().networks ?? []).map((n) => n.cidr),
          leaseCommits: commits,
          leases: counts.bound,
          offers: counts.offered,
          quarantined: counts.quarantined,
          received: responder.counters.received,
          answered: responder.counters.answered,
          malformed: responder.counters.malformed,
          floodDropped: responder.counters.floodDropped,
          errors: responder.counters.errors,
          ignored: { ...responder.counters.ignored },
          messages: { ...responder.counters.messages, ...sent },
          lastError,
        };
      },
      async stop() {
        withdrawLeases?.();
        clearInterval(sweeper);
        stopped = true;
        socket.removeAllListeners('message');
        if (commitQueued) clearImmediate(commitQueued);
        await committing;
        await commit();
        try {
          await leaseFile.compact(leases.snapshot());
        } catch (err) {
          ctx.logger.error({ err: (err as Error).message, file: leaseFilePath }, 'could not rewrite the DHCP lease file; its journal holds the leases');
        }
        await leaseFile.close();
        const sockets = [socket, ...(await Promise.allSettled(broadcasters.values())).flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))];
        await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      },
    };
  };
}

/** The `dhcp` site service as the agent runs it. */
export const dhcpService: AgentServiceFactory = createDhcpService();
