/**
 * The site's authoritative DNS server, run by the agent as the `dns` service: answers
 * A, PTR, SOA and NS for the site's zones over UDP and TCP, from an answer table rebuilt
 * whenever a new desired state arrives. The sockets and the wire codec (wire.ts) are
 * its own. With `workers` set, that many child processes answer UDP on the same socket,
 * each from a copy of the table. It never recurses or forwards: names outside its
 * zones are REFUSED.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { SproutError, type AgentServiceContext, type AgentServiceFactory, type RunningAgentService, type SiteDesiredState } from '@sprout/kernel/sdk';
import { AnswerTable } from './answer-table.ts';
import { addStats, answerMessage, newStats, udpResponder } from './respond.ts';
import { parseDnsSettings } from './settings.ts';
import { UdpWorkers, type WorkerTable } from './udp-workers.ts';
import { ZoneSerial } from './zone-serial.ts';
import { zonesFor, zoneContent, type ZoneSet } from './zones.ts';

const maxTcpConnections = 256;
/** A TCP client idle this long is disconnected (RFC 7766 §6.2.3 suggests seconds, not minutes). */
const tcpIdleMs = 10_000;
const workerStartMs = 30_000;

export const dnsService: AgentServiceFactory = async (ctx: AgentServiceContext): Promise<RunningAgentService> => {
  const settings = parseDnsSettings(ctx.settings);
  const serial = new ZoneSerial(join(ctx.dataDir, 'dns'));
  const stats = newStats();
  let lastError: string | undefined;
  let rejectedRecords = 0;
  let stopped = false;
  let workers: UdpWorkers | undefined;

  const fail = (err: unknown, message: string, context: object = {}) => {
    stats.errors += 1;
    lastError = `${message}: ${(err as Error)?.message ?? String(err)}`;
    ctx.logger.error({ err, ...context }, message);
  };

  let set: ZoneSet;
  const build = (state: SiteDesiredState): AnswerTable => {
    const next = zonesFor(state, settings);
    const built = new AnswerTable(next, serial.serialFor(zoneContent(next)));
    set = next;
    rejectedRecords = next.rejected.length;
    for (const { record, reason } of next.rejected) ctx.logger.warn({ record, reason }, 'DNS record not served');
    return built;
  };
  const forWorkers = (): WorkerTable => ({ zones: [...set.zones], records: set.records, serial: table.serial });

  let table = build(ctx.desiredState());
  let builtFrom = ctx.desiredState();
  ctx.onDesiredState((state) => {
    if (stopped) return;
    // Most revisions change no zone (a boot intent, a reservation): the table stays as it is.
    if (sameZoneInput(builtFrom, state)) return;
    try {
      const before = table.serial;
      table = build(state);
      builtFrom = state;
      workers?.update(forWorkers());
      // Records given anew (another order) rebuild the zones; only a change of their content (a new serial) is news.
      const line = { zones: table.zones, records: table.recordCount, serial: table.serial };
      if (table.serial !== before) ctx.logger.info(line, 'DNS zones changed');
      else ctx.logger.debug?.(line, 'DNS zones rebuilt, unchanged');
    } catch (err) {
      // The previous zones stay served: a partial table would answer NXDOMAIN for names that exist.
      fail(err, 'DNS zones could not be rebuilt from the new desired state; the previous ones are still served');
    }
  });

  // Clients are IP literals, so the lookup dgram runs before every send hands the
  // address straight back instead of going through dns.lookup and a tick.
  const udp: UdpSocket = createSocket({ type: 'udp4', lookup: (address, _options, callback) => callback(null, address, 4) });
  udp.on(
    'message',
    udpResponder(
      udp,
      () => table,
      stats,
      (err, message) => fail(err, message, { transport: 'udp' }),
    ),
  );

  const connections = new Set<Socket>();
  const tcp: Server = createServer((socket) => serveTcp(socket));
  // Each TCP client holds a socket for up to the idle timeout; a bound keeps a flood of
  // idle connections from exhausting the agent's file descriptors.
  tcp.maxConnections = maxTcpConnections;

  /** RFC 1035 §4.2.2: each message is preceded by its length in two octets; several may follow one another. */
  const serveTcp = (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
    socket.setTimeout(tcpIdleMs, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        let response;
        try {
          response = answerMessage(table, message, 'tcp', stats);
        } catch (err) {
          fail(err, 'DNS query could not be answered', { transport: 'tcp' });
          return socket.destroy();
        }
        // A peer that sends responses or fragments shorter than a header is not a resolver: closed, not left waiting.
        if (response === 'ignore') return socket.destroy();
        const framed = Buffer.allocUnsafe(2 + response.message.length);
        framed.writeUInt16BE(response.message.length, 0);
        response.message.copy(framed, 2);
        socket.write(framed);
      }
    });
  };

  try {
    await Promise.all([
      new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        // The workers get this very socket (its handle sent over IPC), not a second bind.
        udp.bind(settings.port, settings.address, () => {
          udp.off('error', reject);
          resolve();
        });
      }),
      new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(settings.port, settings.address, () => {
          tcp.off('error', reject);
          resolve();
        });
      }),
    ]);
  } catch (err) {
    await close(udp, tcp, connections);
    throw new SproutError('SPROUT_ERR_UNAVAILABLE', `DNS cannot listen on ${settings.address}:${settings.port}: ${(err as Error).message}`, {
      context: { service: 'dns', address: settings.address, port: settings.port, code: (err as NodeJS.ErrnoException).code },
    });
  }
  udp.on('error', (err: Error) => fail(err, 'DNS UDP socket error'));
  tcp.on('error', (err: Error) => fail(err, 'DNS TCP listener error'));
  if (settings.workers > 0) {
    workers = new UdpWorkers(settings.workers, udp, forWorkers(), (message) => fail(new Error(message), 'DNS worker'));
    // Serving means every process reading the socket answers; the agent's own process answers meanwhile.
    if (!(await workers.ready(workerStartMs)))
      fail(new Error(`not all ${settings.workers} workers answered within ${workerStartMs} ms`), 'DNS workers are slow to start');
  }
  ctx.logger.info({ address: settings.address, port: settings.port, zones: table.zones, serial: table.serial, workers: settings.workers }, 'DNS serving');

  return {
    health: () => {
      const total = newStats();
      addStats(total, stats);
      if (workers) addStats(total, workers.totals());
      return {
        listening: `${settings.address}:${settings.port}`,
        zones: table.zones,
        records: table.recordCount,
        rejectedRecords,
        serial: table.serial,
        ...total,
        ...(workers ? { workers: workers.states().map((w) => ({ pid: w.pid, serial: w.serial, queriesAnswered: w.stats.queriesAnswered })) } : {}),
        ...(lastError ? { lastError } : {}),
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await workers?.stop();
      await close(udp, tcp, connections);
    },
  };
};

async function close(udp: UdpSocket, tcp: Server, connections: Set<Socket>): Promise<void> {
  // Idle TCP clients are kept for up to 10 s; stopping must not wait for them.
  for (const socket of connections) socket.destroy();
  await Promise.all([
    new Promise<void>((resolve) => {
      try {
        udp.close(() => resolve());
      } catch {
        resolve(); // never bound
      }
    }),
    new Promise<void>((resolve) => (tcp.listening ? tcp.close(() => resolve()) : resolve())),
  ]);
}

/** Whether two desired states give the same zones: the same networks and DNS records, in the same order. */
function sameZoneInput(a: SiteDesiredState, b: SiteDesiredState): boolean {
  const ra = a.dnsRecords ?? [];
  const rb = b.dnsRecords ?? [];
  if (ra.length !== rb.length || JSON.stringify(a.networks ?? []) !== JSON.stringify(b.networks ?? [])) return false;
  for (let i = 0; i < ra.length; i++) {
    const x = ra[i];
    const y = rb[i];
    if (x.zone !== y.zone || x.name !== y.name || x.type !== y.type || x.value !== y.value || x.ttl !== y.ttl || x.siteId !== y.siteId) return false;
  }
  return true;
}
