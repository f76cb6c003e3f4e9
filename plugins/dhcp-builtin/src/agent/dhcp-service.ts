/**
 * The site agent's `dhcp` service: Sprout's DHCPv4 server on a UDP socket, answering
 * from the desired state through DhcpResponder and keeping leases in
 * `<dataDir>/dhcp/leases.json`. Nothing here decides an answer; it only moves bytes,
 * persists, sweeps expired leases, reports health and answers the agent's lease lookups.
 */
import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { AgentServiceContext, AgentServiceFactory, RunningAgentService } from '@sprout/kernel';
import { parseDhcpSettings } from './dhcp-settings.ts';
import { DhcpResponder } from './dhcp-responder.ts';
import { readLeaseFile, writeLeaseFile } from './lease-file.ts';
import { LeaseTable } from './lease-table.ts';

export interface DhcpServiceOptions {
  /** Milliseconds since the epoch; tests move it to expire leases. */
  now?: () => number;
  /** Local IPv4 addresses when `interfaces` is not set; the host's by default. */
  hostAddresses?: () => string[];
}

const sweepIntervalMs = 10_000;
const persistDelayMs = 200;
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
    const settings = parseDhcpSettings(ctx.settings);
    const now = options.now ?? Date.now;
    const leaseFile = join(ctx.dataDir, 'dhcp', 'leases.json');
    const leases = new LeaseTable(now);
    leases.restore(readLeaseFile(leaseFile));

    let lastError: string | null = null;
    let persistTimer: NodeJS.Timeout | undefined;
    const persist = (): void => {
      persistTimer = undefined;
      try {
        writeLeaseFile(leaseFile, leases.snapshot());
      } catch (err) {
        lastError = `writing ${leaseFile}: ${(err as Error).message}`;
        ctx.logger.error({ err: (err as Error).message, file: leaseFile }, 'could not persist DHCP leases');
      }
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
      onLeasesChanged: () => {
        persistTimer ??= setTimeout(persist, persistDelayMs);
      },
      onError: (err, mac) => {
        lastError = (err as Error).message;
        ctx.logger.error({ err: (err as Error).message, mac }, 'DHCP packet could not be answered');
      },
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
    const socket: Socket = createSocket({ type: 'udp4', reuseAddr: true, recvBufferSize: receiveBufferBytes });
    socket.on('message', (packet, from) => {
      for (const reply of responder.handle(packet, from)) {
        socket.send(reply.packet, reply.port, reply.address, (err) => {
          if (err) {
            lastError = `sending to ${reply.address}:${reply.port}: ${err.message}`;
            ctx.logger.warn({ err: err.message, to: reply.address }, 'DHCP reply could not be sent');
          }
        });
      }
    });
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
          leases: counts.bound,
          offers: counts.offered,
          quarantined: counts.quarantined,
          received: responder.counters.received,
          answered: responder.counters.answered,
          malformed: responder.counters.malformed,
          floodDropped: responder.counters.floodDropped,
          errors: responder.counters.errors,
          ignored: { ...responder.counters.ignored },
          lastError,
        };
      },
      async stop() {
        withdrawLeases?.();
        clearInterval(sweeper);
        if (persistTimer) clearTimeout(persistTimer);
        persist();
        await new Promise<void>((resolve) => socket.close(() => resolve()));
      },
    };
  };
}

/** The `dhcp` site service as the agent runs it. */
export const dhcpService: AgentServiceFactory = createDhcpService();
