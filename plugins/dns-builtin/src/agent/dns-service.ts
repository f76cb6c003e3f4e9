/**
 * The site's authoritative DNS server, run by the agent as the `dns` service: answers
 * A, PTR, SOA and NS for the site's zones over UDP and TCP (dns2 does the sockets and
 * the parsing), from an answer table rebuilt whenever a new desired state arrives.
 * It never recurses or forwards: names outside its zones are REFUSED.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { Packet, TCPServer } from 'dns2';
import { SproutError, type AgentServiceContext, type AgentServiceFactory, type RunningAgentService, type SiteDesiredState } from '@sprout/kernel';
import { AnswerTable, type Answer, type Query, type Transport } from './answer-table.ts';
import { parseDnsSettings } from './settings.ts';
import { ZoneSerial } from './zone-serial.ts';
import { zonesFor, zoneContent } from './zones.ts';
import { rcode } from './wire.ts';

const maxTcpConnections = 256;
const rcodeNames = Object.fromEntries(Object.entries(rcode).map(([name, code]) => [code, name])) as Record<number, string>;

export const dnsService: AgentServiceFactory = async (ctx: AgentServiceContext): Promise<RunningAgentService> => {
  const settings = parseDnsSettings(ctx.settings);
  const serial = new ZoneSerial(join(ctx.dataDir, 'dns'));
  const stats = { queriesReceived: 0, queriesAnswered: 0, responsesIgnored: 0, truncated: 0, malformedQueries: 0, errors: 0, byRcode: {} as Record<string, number> };
  let lastError: string | undefined;
  let rejectedRecords = 0;
  let stopped = false;

  const fail = (err: unknown, message: string, context: object = {}) => {
    stats.errors += 1;
    lastError = `${message}: ${(err as Error).message ?? String(err)}`;
    ctx.logger.error({ err, ...context }, message);
  };

  const build = (state: SiteDesiredState): AnswerTable => {
    const set = zonesFor(state, settings);
    rejectedRecords = set.rejected.length;
    for (const { record, reason } of set.rejected) ctx.logger.warn({ record, reason }, 'DNS record not served');
    return new AnswerTable(set, serial.serialFor(zoneContent(set)));
  };

  let table = build(ctx.desiredState());
  ctx.onDesiredState((state) => {
    if (stopped) return;
    try {
      const before = table.serial;
      table = build(state);
      // Every desired-state revision rebuilds the zones; only a change of their content (a new serial) is news.
      const line = { zones: table.zones, records: table.recordCount, serial: table.serial };
      if (table.serial !== before) ctx.logger.info(line, 'DNS zones changed');
      else ctx.logger.debug?.(line, 'DNS zones rebuilt, unchanged');
    } catch (err) {
      // The previous zones stay served: a partial table would answer NXDOMAIN for names that exist.
      fail(err, 'DNS zones could not be rebuilt from the new desired state; the previous ones are still served');
    }
  });

  const answer = (transport: Transport) => (request: Query, send: (response: Buffer) => unknown, client: unknown) => {
    stats.queriesReceived += 1;
    try {
      deliver(transport, table.respond(request, transport), send, client);
    } catch (err) {
      fail(err, 'DNS query could not be answered', { transport });
      if (transport === 'tcp') (client as Socket).destroy();
    }
  };
  const deliver = (transport: Transport, response: Answer | undefined, send: (response: Buffer) => unknown, client: unknown) => {
    if (!response) {
      stats.responsesIgnored += 1;
      // dns2 holds a TCP connection open until every message on it is answered; one
      // that sends responses is not a resolver, so it is closed instead of left waiting.
      if (transport === 'tcp') (client as Socket).destroy();
      return;
    }
    stats.queriesAnswered += 1;
    if (response.truncated) stats.truncated += 1;
    const name = rcodeNames[response.rcode];
    stats.byRcode[name] = (stats.byRcode[name] ?? 0) + 1;
    // dns2's TCP sends return a promise; UDP sends report a refused datagram to their callback.
    const sent = send(response.message);
    if (sent instanceof Promise) sent.catch((err: unknown) => fail(err, 'DNS response could not be sent', { transport }));
  };
  const malformed = () => {
    stats.queriesReceived += 1;
    stats.malformedQueries += 1;
  };

  // UDP is read here rather than by dns2's server: a query whose answer is precomputed
  // is answered from its raw bytes (respondToUdpWire), and only the rest is parsed.
  // Clients are IP literals, so the lookup dgram runs before every send hands the
  // address straight back instead of going through dns.lookup and a tick.
  const udp: UdpSocket = createSocket({ type: 'udp4', lookup: (address, _options, callback) => callback(null, address, 4) });
  const answerUdp = answer('udp');
  udp.on('message', (message: Buffer, from: RemoteInfo) => {
    let quick: Answer | undefined;
    try {
      quick = table.respondToUdpWire(message);
    } catch (err) {
      fail(err, 'DNS query could not be answered', { transport: 'udp' });
    }
    if (quick) {
      // A precomputed answer costs the lookup, the copy and this send: no closure and
      // no callback (whose completion would cost a tick per answer). A datagram the
      // kernel refuses is lost, as it could be on the wire; the client asks again.
      stats.queriesReceived += 1;
      stats.queriesAnswered += 1;
      stats.byRcode.NOERROR = (stats.byRcode.NOERROR ?? 0) + 1;
      udp.send(quick.message, from.port, from.address);
      return;
    }
    const sendUdp = (response: Buffer) => udp.send(response, from.port, from.address, (err) => err && fail(err, 'DNS response could not be sent', { transport: 'udp' }));
    let request: Query;
    try {
      request = Packet.parse(message) as unknown as Query;
    } catch {
      return malformed();
    }
    answerUdp(request, sendUdp, from);
  });
  const tcp = new TCPServer();
  // Each TCP client holds a socket for up to dns2's 10 s idle timeout; a bound keeps a
  // flood of idle connections from exhausting the agent's file descriptors.
  tcp.maxConnections = maxTcpConnections;
  tcp.on('request', answer('tcp'));
  tcp.on('requestError', malformed);
  const connections = new Set<Socket>();
  tcp.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });

  try {
    await Promise.all([
      new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
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
      context: { address: settings.address, port: settings.port, code: (err as NodeJS.ErrnoException).code },
    });
  }
  udp.on('error', (err: Error) => fail(err, 'DNS UDP socket error'));
  tcp.on('error', (err: Error) => fail(err, 'DNS TCP listener error'));
  ctx.logger.info({ address: settings.address, port: settings.port, zones: table.zones, serial: table.serial }, 'DNS serving');

  return {
    health: () => ({
      listening: `${settings.address}:${settings.port}`,
      zones: table.zones,
      records: table.recordCount,
      rejectedRecords,
      serial: table.serial,
      ...stats,
      byRcode: { ...stats.byRcode },
      ...(lastError ? { lastError } : {}),
    }),
    async stop() {
      if (stopped) return;
      stopped = true;
      await close(udp, tcp, connections);
    },
  };
};

async function close(udp: UdpSocket, tcp: TCPServer, connections: Set<Socket>): Promise<void> {
  // dns2 keeps idle TCP connections for 10 s; stopping must not wait for them.
  for (const socket of connections) socket.destroy();
  await Promise.all([
    new Promise<void>((resolve) => {
      try {
        udp.close(() => resolve());
      } catch {
        resolve(); // never bound
      }
    }),
    new Promise<void>((resolve) => tcp.close(() => resolve())),
  ]);
}
