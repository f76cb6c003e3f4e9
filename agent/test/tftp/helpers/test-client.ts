/**
 * A small TFTP reader written for the tests, for what curl and atftp cannot do on demand:
 * ask for windowsize, drop a packet on purpose, repeat every ACK, or go silent.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import { decodePacket, encodeAck, encodeRequest } from '../../../src/services/tftp/packets.ts';

export interface TestRead {
  oack: Map<string, string> | null;
  data: Buffer;
  error: { code: number; message: string; fromPort: number } | null;
  /** DATA packets received, duplicates and dropped ones included. */
  dataPackets: number;
  /** How many times DATA block 1 arrived. */
  firstBlockArrivals: number;
  oackArrivals: number;
  serverPort: number | null;
}

export interface TestReadOptions {
  port: number;
  filename: string;
  op?: 'RRQ' | 'WRQ';
  mode?: string;
  options?: Record<string, string>;
  /** Ignores the first DATA packet, as if the network lost it. */
  dropFirstData?: boolean;
  /** Ignores every n-th DATA packet that arrives, as a lossy link would. */
  dropEvery?: number;
  /** Ignores the first OACK, as if the network lost it. */
  dropFirstOack?: boolean;
  /** Sends every ACK twice, as a client whose ACK was delayed and repeated would. */
  repeatAcks?: boolean;
  /** Sends every ACK this long after its DATA arrived, as a slow client would (keep lingerMs above it). */
  ackDelayMs?: number;
  /** Stops acknowledging after this many DATA packets (then waits for the server to give up). */
  stopAckingAfter?: number;
  /** Bound on the whole read; the promise rejects when it passes. */
  deadlineMs?: number;
  /** Extra wait after the last block, to count retransmissions that should not come. */
  lingerMs?: number;
}

export function readOverTftp(options: TestReadOptions): Promise<TestRead> {
  const socket = createSocket('udp4');
  const result: TestRead = { oack: null, data: Buffer.alloc(0), error: null, dataPackets: 0, firstBlockArrivals: 0, oackArrivals: 0, serverPort: null };
  const chunks: Buffer[] = [];
  let blksize = 512;
  let windowsize = 1;
  let expected = 1; // next block number, unwrapped
  let inWindow = 0;
  let dropped = false;
  let droppedOack = false;
  let gapAcked = false;
  let done = false;

  return new Promise<TestRead>((resolve, reject) => {
    const finish = (after = 0) => {
      done = true;
      setTimeout(() => {
        clearTimeout(deadline);
        socket.close();
        result.data = Buffer.concat(chunks);
        resolve(result);
      }, after);
    };
    const deadline = setTimeout(() => {
      socket.close();
      reject(
        new Error(`test client: no complete answer for ${options.filename} within ${options.deadlineMs ?? 10_000} ms (got ${result.dataPackets} DATA packets)`),
      );
    }, options.deadlineMs ?? 10_000);
    const ack = (block: number, to: RemoteInfo) => {
      const times = options.repeatAcks ? 2 : 1;
      const send = () => {
        for (let i = 0; i < times; i += 1) socket.send(encodeAck(block), to.port, to.address);
      };
      if (options.ackDelayMs) setTimeout(send, options.ackDelayMs);
      else send();
    };

    socket.on('message', (message, rinfo) => {
      const packet = decodePacket(message);
      if (!packet) return;
      if (packet.op === 'ERROR') {
        if (done) return;
        result.error = { code: packet.code, message: packet.message, fromPort: rinfo.port };
        return finish();
      }
      if (done && packet.op !== 'DATA') return;
      result.serverPort ??= rinfo.port;
      if (packet.op === 'OACK') {
        result.oackArrivals += 1;
        if (options.dropFirstOack && !droppedOack) {
          droppedOack = true;
          return;
        }
        result.oack = packet.options;
        blksize = Number(packet.options.get('blksize') ?? 512);
        windowsize = Number(packet.options.get('windowsize') ?? 1);
        return ack(0, rinfo);
      }
      if (packet.op !== 'DATA') return;
      result.dataPackets += 1;
      if (packet.block === 1) result.firstBlockArrivals += 1;
      if (done) return;
      if (options.dropEvery && result.dataPackets % options.dropEvery === 0) return;
      if (options.dropFirstData && !dropped) {
        dropped = true;
        return;
      }
      if (options.stopAckingAfter !== undefined && result.dataPackets > options.stopAckingAfter) return;
      if (packet.block !== (expected & 0xffff)) {
        // Out of order (a gap) or a repeat: say once where we are, as RFC 7440 receivers do.
        if (!gapAcked) ack(expected - 1, rinfo);
        gapAcked = true;
        inWindow = 0;
        return;
      }
      gapAcked = false;
      chunks.push(Buffer.from(packet.data));
      expected += 1;
      inWindow += 1;
      const last = packet.data.length < blksize;
      if (last || inWindow === windowsize) {
        ack(packet.block, rinfo);
        inWindow = 0;
      }
      if (last) finish(options.lingerMs ?? 0);
    });

    socket.bind(0, '127.0.0.1', () => {
      const request = encodeRequest(options.op ?? 'RRQ', options.filename, options.mode ?? 'octet', new Map(Object.entries(options.options ?? {})));
      socket.send(request, options.port, '127.0.0.1');
    });
  });
}

export interface RawPeer {
  port: number;
  send(packet: Buffer, port: number): void;
  /** The next packet that arrives, decoded, with the port it came from; rejects after `timeoutMs`. */
  next(timeoutMs?: number): Promise<{ packet: ReturnType<typeof decodePacket>; fromPort: number }>;
  /** True when nothing arrives within `ms`. */
  silentFor(ms: number): Promise<boolean>;
  close(): void;
}

/** A bare UDP socket on 127.0.0.1 for tests that play the protocol step by step. */
export async function openPeer(): Promise<RawPeer> {
  const socket = createSocket('udp4');
  const queue: { packet: ReturnType<typeof decodePacket>; fromPort: number }[] = [];
  let waiter: (() => void) | null = null;
  socket.on('message', (message, rinfo) => {
    queue.push({ packet: decodePacket(message), fromPort: rinfo.port });
    waiter?.();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const arrival = (ms: number) =>
    new Promise<boolean>((resolve) => {
      if (queue.length > 0) return resolve(true);
      const timer = setTimeout(() => {
        waiter = null;
        resolve(false);
      }, ms);
      waiter = () => {
        clearTimeout(timer);
        waiter = null;
        resolve(true);
      };
    });
  return {
    port: socket.address().port,
    send: (packet, port) => socket.send(packet, port, '127.0.0.1'),
    async next(timeoutMs = 5000) {
      if (!(await arrival(timeoutMs))) throw new Error(`no packet within ${timeoutMs} ms`);
      return queue.shift()!;
    },
    silentFor: async (ms) => !(await arrival(ms)),
    close: () => socket.close(),
  };
}
