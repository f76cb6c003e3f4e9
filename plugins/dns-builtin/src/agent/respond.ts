/**
 * Answering one DNS message, shared by the agent's process and its UDP workers: the
 * counters the heartbeat carries, the fast path for precomputed UDP answers, and the
 * decode-then-respond path for everything else.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import type { AnswerTable, Answer, Transport } from './answer-table.ts';
import { decodeQuery, isUnreadable, rcode } from './wire.ts';

export interface DnsStats {
  queriesReceived: number;
  queriesAnswered: number;
  responsesIgnored: number;
  truncated: number;
  malformedQueries: number;
  errors: number;
  byRcode: Record<string, number>;
}

export function newStats(): DnsStats {
  return { queriesReceived: 0, queriesAnswered: 0, responsesIgnored: 0, truncated: 0, malformedQueries: 0, errors: 0, byRcode: {} };
}

/** Adds `from` into `into`, counter by counter. */
export function addStats(into: DnsStats, from: DnsStats): void {
  into.queriesReceived += from.queriesReceived;
  into.queriesAnswered += from.queriesAnswered;
  into.responsesIgnored += from.responsesIgnored;
  into.truncated += from.truncated;
  into.malformedQueries += from.malformedQueries;
  into.errors += from.errors;
  for (const [name, count] of Object.entries(from.byRcode)) into.byRcode[name] = (into.byRcode[name] ?? 0) + count;
}

const rcodeNames = Object.fromEntries(Object.entries(rcode).map(([name, code]) => [code, name])) as Record<number, string>;

/**
 * What is sent back for `message`, counted in `stats`: an answer, or `ignore` for a
 * message that gets none (a response, or shorter than a header). A message whose header
 * reads but whose question or records do not is answered FORMERR (NOTIMP for other
 * opcodes) and counted as malformed.
 */
export function answerMessage(table: AnswerTable, message: Buffer, transport: Transport, stats: DnsStats): Answer | 'ignore' {
  stats.queriesReceived += 1;
  const decoded = decodeQuery(message);
  let response: Answer | undefined;
  if (isUnreadable(decoded)) {
    stats.malformedQueries += 1;
    response = decoded.header ? table.respondUnreadable(decoded.header) : undefined;
    if (!response) return 'ignore';
  } else {
    response = table.respond(decoded, transport);
    if (!response) {
      stats.responsesIgnored += 1;
      return 'ignore';
    }
  }
  stats.queriesAnswered += 1;
  if (response.truncated) stats.truncated += 1;
  const name = rcodeNames[response.rcode];
  stats.byRcode[name] = (stats.byRcode[name] ?? 0) + 1;
  return response;
}

/**
 * The `message` listener of a UDP socket. A query whose answer is precomputed is
 * answered from its raw bytes (respondToUdpWire): the lookup, the copy and the send, no
 * callback (whose completion would cost a tick per answer); a datagram the kernel
 * refuses is lost, as it could be on the wire, and the client asks again.
 */
export function udpResponder(socket: UdpSocket, table: () => AnswerTable, stats: DnsStats, fail: (err: unknown, message: string) => void) {
  const sent = (err: Error | null) => err && fail(err, 'DNS response could not be sent');
  return (message: Buffer, from: { address: string; port: number }): void => {
    try {
      const current = table();
      const quick = current.respondToUdpWire(message);
      if (quick) {
        stats.queriesReceived += 1;
        stats.queriesAnswered += 1;
        stats.byRcode.NOERROR = (stats.byRcode.NOERROR ?? 0) + 1;
        socket.send(quick.message, from.port, from.address);
        return;
      }
      const response = answerMessage(current, message, 'udp', stats);
      if (response !== 'ignore') socket.send(response.message, from.port, from.address, sent);
    } catch (err) {
      fail(err, 'DNS query could not be answered');
    }
  };
}
