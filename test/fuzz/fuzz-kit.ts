/**
 * What the protocol fuzz tests share: a seeded generator (the seed is printed, and
 * SPROUT_FUZZ_SEED replays it), byte mutations, a paced UDP flood that collects every
 * answer, and a memory reading before and after.
 */
import { createSocket, type Socket } from 'node:dgram';

export const fuzzSeed = Number(process.env.SPROUT_FUZZ_SEED ?? Date.now() % 2 ** 31);

/** mulberry32: small, seeded, good enough to pick bytes. */
export function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
    bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => int(256))),
  };
}
export type Random = ReturnType<typeof prng>;

/** One of the classic mutations of a valid packet: flipped bytes, truncation, extension, duplicated or zeroed spans, or pure noise. */
export function mutate(random: Random, valid: Buffer, maxLength = 1500): Buffer {
  const p = Buffer.from(valid);
  switch (random.int(7)) {
    case 0:
      return random.bytes(random.int(maxLength));
    case 1:
      for (let i = 0, n = 1 + random.int(8); i < n && p.length; i++) p[random.int(p.length)] = random.int(256);
      return p;
    case 2:
      return p.subarray(0, random.int(p.length + 1));
    case 3:
      return Buffer.concat([p, random.bytes(random.int(300))]).subarray(0, maxLength);
    case 4: {
      const at = random.int(p.length + 1);
      return Buffer.concat([p.subarray(0, at), p.subarray(random.int(p.length + 1)), p.subarray(at)]).subarray(0, maxLength);
    }
    case 5: {
      const at = random.int(p.length + 1);
      p.fill(random.pick([0, 0xff]), at, Math.min(p.length, at + random.int(16)));
      return p;
    }
    default:
      for (let i = 0; i < p.length; i++) if (random.next() < 0.05) p[i] ^= 1 << random.int(8);
      return p;
  }
}

export interface Flood {
  socket: Socket;
  port: number;
  /** Every datagram that came back, with where it came from. */
  answers: { packet: Buffer; port: number }[];
  /** Sends `count` packets to `port`, pausing now and then so loopback does not drop the flood. */
  send(count: number, port: number, packet: (i: number) => Buffer, host?: string): Promise<void>;
  close(): void;
}

export async function flood(bindAddress = '127.0.0.1', keep = 200_000): Promise<Flood> {
  const socket = createSocket('udp4');
  const answers: Flood['answers'] = [];
  socket.on('message', (packet, from) => {
    if (answers.length < keep) answers.push({ packet, port: from.port });
  });
  await new Promise<void>((resolve) => socket.bind(0, bindAddress, () => resolve()));
  return {
    socket,
    port: socket.address().port,
    answers,
    async send(count, port, packet, host = '127.0.0.1') {
      for (let i = 0; i < count; i++) {
        await new Promise<void>((resolve) => socket.send(packet(i), port, host, () => resolve()));
        if (i % 25 === 24) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    },
    close: () => socket.close(),
  };
}

/** Heap in use after a full collection when --expose-gc is on, otherwise as it stands. */
export function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

export const MiB = 1024 * 1024;
