/**
 * A UDP worker of the DNS service (settings `workers`): a child process that answers
 * queries on the agent's own UDP socket, handed over by the agent, from its own copy of
 * the answer table. The kernel gives each datagram to one of the processes reading the
 * socket, so the agent and its workers share the load across cores.
 *
 * Messages from the agent: `{ type: 'socket' }` with the socket as handle, `{ type:
 * 'table', zones, records, serial }` whenever the zones change, `{ type: 'stop' }`.
 * To the agent: `{ type: 'table', serial }` once a table is in use, `{ type: 'stats' }`
 * with the cumulative counters (every 200 ms while they move), `{ type: 'error' }`.
 * It loads only the answer table and the wire codec, not the kernel.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import { AnswerTable } from './answer-table.ts';
import { newStats, udpResponder } from './respond.ts';
import type { WorkerTable } from './udp-workers.ts';

type FromAgent = { type: 'socket' } | ({ type: 'table' } & WorkerTable) | { type: 'stop' };

const stats = newStats();
let table: AnswerTable | undefined;
let socket: UdpSocket | undefined;
let reported = -1;

const send = (message: object) => {
  if (process.connected) process.send!(message);
};
const fail = (err: unknown, message: string) => {
  stats.errors += 1;
  send({ type: 'error', message: `${message}: ${(err as Error)?.message ?? String(err)}` });
};

const timer = setInterval(() => {
  const moved = stats.queriesReceived + stats.errors;
  if (moved === reported) return;
  reported = moved;
  send({ type: 'stats', stats });
}, 200);

process.on('message', (message: FromAgent, handle?: unknown) => {
  if (message.type === 'table') {
    try {
      table = new AnswerTable({ zones: new Map(message.zones), records: message.records, rejected: [] }, message.serial);
      send({ type: 'table', serial: message.serial });
    } catch (err) {
      fail(err, 'DNS worker could not build its answer table; the previous one is still served');
    }
  } else if (message.type === 'socket') {
    socket = handle as UdpSocket;
    socket.on(
      'message',
      udpResponder(socket, () => table!, stats, fail),
    );
    socket.on('error', (err) => fail(err, 'DNS UDP socket error'));
  } else if (message.type === 'stop') {
    stop();
  }
});
// The agent gone (killed, or its channel closed) means stop: a worker never outlives it.
process.on('disconnect', stop);

function stop(): void {
  clearInterval(timer);
  // The last counters reach the agent before the worker exits.
  const exit = () => {
    if (!process.connected) process.exit(0);
    process.send!({ type: 'stats', stats }, () => process.exit(0));
  };
  if (!socket) return exit();
  socket.close(exit);
}
