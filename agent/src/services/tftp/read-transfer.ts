/**
 * One read transfer: a file sent to one client from the server's own ephemeral socket
 * (its TID), in windows of `windowsize` blocks (RFC 7440; 1 is plain RFC 1350 lock-step).
 * Only the retransmission timer ever resends: a duplicate or old ACK is ignored, so a
 * delayed ACK can never double the traffic (the sorcerer's apprentice bug).
 */
import type { Socket, RemoteInfo } from 'node:dgram';
import type { FileHandle } from 'node:fs/promises';
import { decodePacket, encodeError, opcodes, tftpErrors } from './packets.ts';
import type { HeldFile } from './shared-files.ts';

export interface ReadTransferOptions {
  /** Bound, not yet listened on; the transfer owns it and closes it when done. */
  socket: Socket;
  peer: { address: string; port: number };
  /** Opened for reading; the transfer owns it and closes it when done. */
  file: FileHandle;
  /** The whole file, shared with other transfers of it (SharedFiles): sent from memory, released when done. Without it blocks are read from `file`. */
  content?: HeldFile;
  size: number;
  blksize: number;
  windowsize: number;
  /** Sent first and retransmitted until ACK 0 arrives; null starts with DATA 1. */
  oack: Buffer | null;
  timeoutMs: number;
  retries: number;
  /** Called once, when the client first acknowledges a DATA block (the transfer is no longer `starting`). */
  onProgress?: () => void;
}

/**
 * `clientAborted`: the client ended it with an error packet. PXE ROMs do this on purpose
 * (ask with tsize, read the OACK, abort, ask again), so it is not a server failure.
 */
export type TransferOutcome = { ok: true; bytesSent: number } | { ok: false; bytesSent: number; reason: string; clientAborted?: boolean };

/** Bytes read from disk at a time: blocks are cut from this, never read one by one. */
const readAheadBytes = 256 * 1024;

export class ReadTransfer {
  /** Resolves once, when the last block is acknowledged or the transfer is given up. */
  readonly done: Promise<TransferOutcome>;
  /** Payload bytes put on the wire, retransmissions included. */
  bytesSent = 0;

  private readonly lastBlock: number;
  /** Highest block number (not wrapped) acknowledged in order; 0 before any DATA. */
  private acked = 0;
  /** Highest block number sent so far. */
  private sentUpTo = 0;
  private awaitingOackAck: boolean;
  private retriesLeft: number;
  private finished = false;
  /**
   * One timer per transfer, not one per block: it fires at the retransmission deadline
   * and, when ACKs have moved the deadline on meanwhile, sleeps again until the new one.
   */
  private timer: NodeJS.Timeout | undefined;
  /** When the last window (or the OACK) went out, from performance.now(). */
  private lastSentAt = 0;
  private chunk: { start: number; bytes: Buffer } = { start: 0, bytes: Buffer.alloc(0) };
  private loading = false;
  /**
   * The DATA packet being sent, rewritten for each block: a send that the kernel takes at
   * once has copied it. Replaced by a new one while a send is queued (the socket's buffer
   * was full), since that send still reads it.
   */
  private packet: Buffer;
  private resolveDone!: (outcome: TransferOutcome) => void;

  constructor(private readonly options: ReadTransferOptions) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    // The last block is always short, so a size that is a multiple of blksize ends with an empty block.
    this.lastBlock = Math.floor(options.size / options.blksize) + 1;
    this.awaitingOackAck = options.oack !== null;
    this.retriesLeft = options.retries;
    if (options.content) this.chunk = { start: 0, bytes: options.content.bytes };
    this.packet = newDataPacket(options.blksize);
    options.socket.on('message', (message, rinfo) => this.onMessage(message, rinfo));
    options.socket.on('error', (err) => this.finish({ ok: false, bytesSent: this.bytesSent, reason: `socket error: ${err.message}` }));
  }

  /** True until the client has acknowledged anything: a repeated RRQ is then a duplicate of this one. */
  get starting(): boolean {
    return this.acked === 0;
  }

  start(): void {
    if (this.options.oack) this.send(this.options.oack);
    else this.sendWindow();
    this.sentNow();
    this.waitForDeadline(this.options.timeoutMs);
  }

  /**
   * Ends the transfer now. When the server ends it (stopping), the client gets an error
   * packet with the reason. When the client has moved on (a new request from the same
   * port) it gets none: it would take our error for the answer to that new request.
   */
  abort(reason: string, endedBy: 'server' | 'client'): void {
    if (endedBy === 'server') this.sendError(tftpErrors.notDefined, reason);
    this.finish({ ok: false, bytesSent: this.bytesSent, reason, clientAborted: endedBy === 'client' });
  }

  private onMessage(message: Buffer, rinfo: RemoteInfo): void {
    if (this.finished) return;
    const { peer, socket } = this.options;
    if (rinfo.address !== peer.address || rinfo.port !== peer.port) {
      // Another host or port: answer it, but the transfer goes on (RFC 1350 §4).
      socket.send(encodeError(tftpErrors.unknownTransferId, 'Unknown transfer ID'), rinfo.port, rinfo.address);
      return;
    }
    // An ACK is all a client sends in a healthy transfer: read without decoding it into an object.
    if (message.length >= 4 && message[0] === 0 && message[1] === opcodes.ACK) return this.onAck(message.readUInt16BE(2));
    const packet = decodePacket(message);
    if (packet?.op === 'ERROR') {
      return this.finish({ ok: false, bytesSent: this.bytesSent, reason: `client sent error ${packet.code}: ${packet.message}`, clientAborted: true });
    }
    this.sendError(tftpErrors.illegalOperation, 'Illegal TFTP operation: expected ACK');
    this.finish({ ok: false, bytesSent: this.bytesSent, reason: `client sent ${packet ? packet.op : 'a malformed packet'} during a read` });
  }

  private onAck(wireBlock: number): void {
    if (this.awaitingOackAck) {
      if (wireBlock !== 0) return;
      this.awaitingOackAck = false;
      return this.progressed();
    }
    // Block numbers wrap at 16 bits; a window is at most 64 blocks, so the distance is unambiguous.
    const ahead = (wireBlock - this.acked) & 0xffff;
    if (ahead === 0 || this.acked + ahead > this.sentUpTo) return; // duplicate or stale: the timer handles loss
    if (this.acked === 0) this.options.onProgress?.();
    this.acked += ahead;
    if (this.acked === this.lastBlock) {
      return this.finish({ ok: true, bytesSent: this.bytesSent });
    }
    // Whole window acknowledged, or an ACK inside it (the client saw a gap): go on after the ACKed block.
    this.progressed();
  }

  private progressed(): void {
    this.retriesLeft = this.options.retries;
    this.sendWindow();
    this.sentNow();
  }

  private sentNow(): void {
    this.lastSentAt = performance.now();
  }

  private waitForDeadline(ms: number): void {
    this.timer = setTimeout(() => this.onTimer(), ms);
    this.timer.unref();
  }

  private onTimer(): void {
    if (this.finished) return;
    const waited = performance.now() - this.lastSentAt;
    if (waited < this.options.timeoutMs) return this.waitForDeadline(this.options.timeoutMs - waited);
    if (this.retriesLeft === 0) {
      const waitingFor = this.awaitingOackAck ? 'the OACK' : `block ${this.sentUpTo}`;
      this.sendError(tftpErrors.notDefined, 'Timed out waiting for ACK');
      return this.finish({ ok: false, bytesSent: this.bytesSent, reason: `no ACK for ${waitingFor} after ${this.options.retries} retransmissions` });
    }
    this.retriesLeft -= 1;
    if (this.awaitingOackAck) this.send(this.options.oack!);
    else this.sendWindow();
    this.sentNow();
    this.waitForDeadline(this.options.timeoutMs);
  }

  /** Sends blocks acked+1 … acked+windowsize, reading ahead from disk when they are not in memory. */
  private sendWindow(): void {
    if (this.loading || this.finished) return; // the load in progress sends the window when it lands
    const { blksize, windowsize, size } = this.options;
    const first = this.acked + 1;
    const last = Math.min(this.acked + windowsize, this.lastBlock);
    const fromByte = (first - 1) * blksize;
    const toByte = Math.min(last * blksize, size);
    if (fromByte < this.chunk.start || toByte > this.chunk.start + this.chunk.bytes.length) {
      this.loadChunk(fromByte, Math.min(Math.max(readAheadBytes, toByte - fromByte), size - fromByte));
      return;
    }
    const { socket } = this.options;
    for (let block = first; block <= last; block += 1) {
      const start = (block - 1) * blksize - this.chunk.start;
      const end = Math.min(start + blksize, this.chunk.bytes.length);
      if (socket.getSendQueueCount() > 0) this.packet = newDataPacket(blksize);
      const packet = this.packet;
      packet[2] = (block >> 8) & 0xff;
      packet[3] = block & 0xff;
      this.chunk.bytes.copy(packet, 4, start, end);
      this.bytesSent += end - start;
      this.send(packet.subarray(0, 4 + end - start));
    }
    this.sentUpTo = Math.max(this.sentUpTo, last);
  }

  private loadChunk(position: number, length: number): void {
    this.loading = true;
    // Packets are copies (see `packet`), so the last chunk's memory is read into again when it is large enough.
    const bytes = this.chunk.bytes.length >= length && !this.options.content ? this.chunk.bytes.subarray(0, length) : Buffer.allocUnsafe(length);
    this.options.file.read(bytes, 0, length, position).then(
      ({ bytesRead }) => {
        this.loading = false;
        if (bytesRead !== length) {
          this.sendError(tftpErrors.notDefined, 'File changed during transfer');
          return this.finish({
            ok: false,
            bytesSent: this.bytesSent,
            reason: `file shrank during the transfer (read ${bytesRead} of ${length} bytes at ${position})`,
          });
        }
        this.chunk = { start: position, bytes };
        this.sendWindow();
      },
      (err: Error) => {
        this.loading = false;
        this.sendError(tftpErrors.notDefined, 'Read error');
        this.finish({ ok: false, bytesSent: this.bytesSent, reason: `read failed: ${err.message}` });
      },
    );
  }

  /**
   * Without a callback: one would cost a closure and a tick per packet. A datagram the
   * kernel refuses is then a lost one, and the retransmission timer deals with it.
   */
  private send(packet: Buffer): void {
    if (this.finished) return;
    this.options.socket.send(packet, this.options.peer.port, this.options.peer.address);
  }

  private sendError(code: (typeof tftpErrors)[keyof typeof tftpErrors], message: string): void {
    this.send(encodeError(code, message));
  }

  private finish(outcome: TransferOutcome): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    // Let a just-queued error packet leave before the socket goes.
    setImmediate(() => {
      this.options.socket.close();
      void this.options.file.close().catch(() => undefined);
      this.options.content?.release();
      this.resolveDone(outcome);
    });
  }
}

function newDataPacket(blksize: number): Buffer {
  const packet = Buffer.allocUnsafeSlow(4 + blksize);
  packet.writeUInt16BE(opcodes.DATA, 0);
  return packet;
}
