/**
 * The DHCP relay the simulator plays for every simulated machine at once: one UDP socket
 * on the relay address, requests forwarded to the agent with giaddr set, replies handed
 * back to the exchange waiting on their xid (and MAC). One socket for a thousand machines;
 * it never answers a client itself.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { bootReply, decodeDhcp, encodeDhcp, type DhcpMessage } from './dhcp-codec.ts';

interface PendingExchange {
  mac: Buffer;
  accept: (reply: DhcpMessage) => boolean;
  resolve: (reply: DhcpMessage) => void;
}

/** Waits before each resend of an unanswered request (the last one before giving up), in ms: patient enough for a busy agent, short enough for a lab. */
const resendAfterMs = [500, 1000, 2000];

export class DhcpRelay {
  private socket?: Socket;
  private readonly pending = new Map<number, PendingExchange>();
  /** The last socket error, for error messages. */
  lastError?: string;

  constructor(
    private readonly relay: { address: string; port: number },
    private readonly server: { host: string; port: number },
  ) {}

  async start(): Promise<void> {
    const socket = createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) =>
        reject(
          new Error(
            `the simulator cannot bind its relay at ${this.relay.address}:${this.relay.port} (${err.message}); on Linux every 127/8 address is local, elsewhere use an address the host has`,
          ),
        ),
      );
      socket.bind(this.relay.port, this.relay.address, () => resolve());
    });
    socket.removeAllListeners('error');
    socket.on('error', (err) => (this.lastError = err.message));
    socket.on('message', (packet) => this.received(packet));
    try {
      // A thousand machines answered at once must not overflow the default buffer.
      socket.setRecvBufferSize(4 * 1024 * 1024);
    } catch {
      /* capped by the host (net.core.rmem_max); the resends cover what is lost */
    }
    this.socket = socket;
  }

  /** The relay's port (useful when it was bound to port 0). */
  port(): number {
    return this.socket?.address().port ?? this.relay.port;
  }

  /** A transaction id no running exchange uses. */
  newXid(): number {
    for (;;) {
      const xid = randomInt(1, 0xffffffff);
      if (!this.pending.has(xid)) return xid;
    }
  }

  /**
   * Forwards `request` (giaddr set here) and resolves with the first reply to its xid and
   * MAC that `accept` takes, resending while none comes; undefined when none came at all.
   */
  exchange(request: DhcpMessage, accept: (reply: DhcpMessage) => boolean, signal: AbortSignal): Promise<DhcpMessage | undefined> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new Error('the simulator is not started'));
    if (this.pending.has(request.xid)) return Promise.reject(new Error(`xid ${request.xid} is already in use`));
    const packet = encodeDhcp({ ...request, giaddr: this.relay.address, hops: request.hops + 1 });
    return new Promise<DhcpMessage | undefined>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(timer);
        this.pending.delete(request.xid);
        signal.removeEventListener('abort', aborted);
      };
      const aborted = () => (finish(), reject(signal.reason));
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener('abort', aborted, { once: true });
      this.pending.set(request.xid, { mac: request.chaddr.subarray(0, request.hlen), accept, resolve: (reply) => (finish(), resolve(reply)) });
      let attempt = 0;
      const send = () => {
        socket.send(packet, this.server.port, this.server.host, (err) => err && (this.lastError = err.message));
        const giveUp = () => (finish(), resolve(undefined));
        timer = setTimeout(attempt + 1 < resendAfterMs.length ? send : giveUp, resendAfterMs[attempt++]);
      };
      send();
    });
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private received(packet: Buffer): void {
    let reply: DhcpMessage;
    try {
      reply = decodeDhcp(packet);
    } catch {
      return; // not DHCP: a relay drops it
    }
    if (reply.op !== bootReply) return;
    const waiting = this.pending.get(reply.xid);
    if (!waiting || !reply.chaddr.subarray(0, waiting.mac.length).equals(waiting.mac)) return;
    if (waiting.accept(reply)) waiting.resolve(reply);
  }
}
