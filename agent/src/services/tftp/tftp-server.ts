/**
 * The read-only TFTP server machines PXE-boot from: it listens for requests, answers each
 * read with a ReadTransfer on a fresh socket and keeps the counters the heartbeat shows.
 * It never writes to disk and never serves a file outside its root.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { open, realpath, stat } from 'node:fs/promises';
import { SproutError } from '@sprout/kernel/sdk';
import { lookUpBootFile } from './boot-file-path.ts';
import { negotiateOptions } from './options.ts';
import { decodePacket, encodeError, encodeOack, tftpErrors, type TftpErrorCode } from './packets.ts';
import { ReadTransfer } from './read-transfer.ts';
import { SharedFiles, type HeldFile } from './shared-files.ts';
import type { TftpSettings } from './settings.ts';
import { createTftpSocket } from './udp-socket.ts';

export interface TftpLogger {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

export interface TftpServerHealth {
  address: string;
  port: number;
  root: string;
  activeTransfers: number;
  completedTransfers: number;
  failedTransfers: number;
  /** Transfers the client ended with an error packet (PXE ROMs abort after learning tsize). */
  abortedByClient: number;
  /** Requests answered with an error packet before any data: not found, refused, bad mode. */
  refusedRequests: number;
  /** Read requests left unanswered because maxTransfers were running; the client resends them. */
  deferredRequests: number;
  /** DATA payload bytes sent, retransmissions included. */
  bytesSent: number;
}

export class TftpServer {
  /** Running transfers by client address and port, with the file each one asked for. */
  private readonly transfers = new Map<string, { transfer: ReadTransfer; filename: string }>();
  /** Clients whose RRQ is between arrival and its transfer starting (lookup and open are async). */
  private readonly opening = new Set<string>();
  private readonly port: number;
  private completed = 0;
  private failed = 0;
  private abortedByClient = 0;
  private refused = 0;
  private deferred = 0;
  /** When the last "busy" warning was logged; a boot storm logs one a minute, not one per request. */
  private busyLoggedAt = 0;
  private bytesSentByFinished = 0;
  private stopping = false;
  /** Boot loaders, kernels and most initrds: a boot storm reads each from disk once. */
  private readonly sharedFiles: SharedFiles;

  private constructor(
    private readonly settings: TftpSettings,
    private readonly rootReal: string,
    private readonly socket: Socket,
    private readonly logger: TftpLogger,
  ) {
    this.port = socket.address().port;
    // Four files' worth bounds what a storm of different large files holds in memory.
    this.sharedFiles = new SharedFiles(settings.sharedFileMaxBytes, 4 * settings.sharedFileMaxBytes);
    socket.on('message', (message, rinfo) => {
      this.onRequest(message, rinfo).catch((err: Error) => logger.warn({ client: `${rinfo.address}:${rinfo.port}`, err: err.message }, 'tftp: request failed'));
    });
    socket.on('error', (err) => logger.warn({ err: err.message }, 'tftp: listening socket error'));
  }

  /** Checks the root and binds the port; fails with SPROUT_ERR_CONFIG naming what to fix. */
  static async start(settings: TftpSettings, logger: TftpLogger): Promise<TftpServer> {
    const rootReal = await realpath(settings.root).catch(() => null);
    const rootInfo = rootReal ? await stat(rootReal).catch(() => null) : null;
    if (!rootReal || !rootInfo?.isDirectory()) {
      throw new SproutError(
        'SPROUT_ERR_CONFIG',
        `TFTP root ${settings.root} is not a directory; install Debian's ipxe package (it fills /usr/lib/ipxe) or set services.tftp.root`,
        {
          context: { service: 'tftp', root: settings.root },
        },
      );
    }
    const socket = createTftpSocket(settings.address);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(settings.port, settings.address, () => {
        socket.off('error', reject);
        resolve();
      });
    }).catch((err: NodeJS.ErrnoException) => {
      socket.close();
      const hint =
        err.code === 'EACCES'
          ? ' (port 69 needs root or CAP_NET_BIND_SERVICE)'
          : err.code === 'EADDRINUSE'
            ? ' (another TFTP server, dnsmasq perhaps, holds it)'
            : '';
      throw new SproutError('SPROUT_ERR_CONFIG', `TFTP cannot listen on ${settings.address}:${settings.port}: ${err.code ?? err.message}${hint}`, {
        context: { service: 'tftp', address: settings.address, port: settings.port },
        cause: err,
      });
    });
    return new TftpServer(settings, rootReal, socket, logger);
  }

  health(): TftpServerHealth {
    let bytesSent = this.bytesSentByFinished;
    for (const { transfer } of this.transfers.values()) bytesSent += transfer.bytesSent;
    return {
      address: this.settings.address,
      port: this.port,
      root: this.rootReal,
      activeTransfers: this.transfers.size,
      completedTransfers: this.completed,
      failedTransfers: this.failed,
      abortedByClient: this.abortedByClient,
      refusedRequests: this.refused,
      deferredRequests: this.deferred,
      bytesSent,
    };
  }

  /** Stops listening, ends every transfer with an error packet and waits for their sockets to close. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
    const running = [...this.transfers.values()].map(({ transfer }) => transfer);
    for (const transfer of running) transfer.abort('Server shutting down', 'server');
    await Promise.all(running.map((transfer) => transfer.done));
  }

  private async onRequest(message: Buffer, rinfo: RemoteInfo): Promise<void> {
    if (this.stopping) return;
    const packet = decodePacket(message);
    // RFC 1350: an error packet is never answered; answering it lets two servers (or a spoofed source) ping-pong errors forever.
    if (packet?.op === 'ERROR') return;
    if (packet?.op === 'WRQ') return this.refuse(rinfo, tftpErrors.accessViolation, 'Access violation: this server is read-only');
    if (packet?.op !== 'RRQ') return this.refuse(rinfo, tftpErrors.illegalOperation, 'Illegal TFTP operation: expected a read request');
    if (packet.mode !== 'octet' && packet.mode !== 'netascii') {
      return this.refuse(rinfo, tftpErrors.illegalOperation, `Illegal TFTP operation: mode ${packet.mode} is not supported`);
    }
    const key = `${rinfo.address}:${rinfo.port}`;
    const existing = this.transfers.get(key);
    // A client repeats its RRQ when our first answer is slow or lost; the transfer already answering it goes on.
    if (this.opening.has(key) || (existing?.transfer.starting && existing.filename === packet.filename)) return;
    if (this.transfers.size + this.opening.size >= this.settings.maxTransfers) return this.defer(key);
    existing?.transfer.abort('the client sent a new request from the same port', 'client');

    this.opening.add(key);
    let transfer: ReadTransfer;
    try {
      const found = await lookUpBootFile(this.rootReal, packet.filename);
      if (!found.ok) {
        if (found.code === tftpErrors.accessViolation) this.logger.warn({ client: key, file: packet.filename }, `tftp: refused: ${found.message}`);
        else this.logger.info({ client: key, file: packet.filename }, 'tftp: file not found');
        return this.refuse(rinfo, found.code, found.message);
      }
      const file = await open(found.path, 'r').catch(() => null);
      if (!file) return this.refuse(rinfo, tftpErrors.accessViolation, 'Access violation: cannot open file');
      const info = await file.stat().catch(() => null);
      const size = info?.size ?? found.size;
      let content: HeldFile | undefined;
      if (info) {
        try {
          content = await this.sharedFiles.acquire(found.path, info, file);
        } catch (err) {
          await file.close();
          this.logger.warn({ client: key, file: packet.filename, err: (err as Error).message }, 'tftp: file could not be read');
          return this.refuse(rinfo, tftpErrors.notDefined, 'Read error');
        }
      }
      const negotiated = negotiateOptions(packet.options, size, { maxBlksize: this.settings.maxBlksize });
      const socket = createTftpSocket(this.settings.address);
      // Bound to the listening address when it is a specific one, so replies come from the address the client asked.
      const ok = await new Promise<boolean>((resolve) => {
        socket.once('error', () => resolve(false));
        socket.bind(0, this.settings.address, () => resolve(true));
      });
      if (!ok || this.stopping) {
        socket.close();
        content?.release();
        await file.close();
        if (!ok) this.refuse(rinfo, tftpErrors.notDefined, 'Cannot open a transfer socket');
        return;
      }
      socket.removeAllListeners('error');
      transfer = new ReadTransfer({
        socket,
        peer: { address: rinfo.address, port: rinfo.port },
        file,
        content,
        size,
        blksize: negotiated.blksize,
        windowsize: negotiated.windowsize,
        oack: negotiated.acknowledged.size > 0 ? encodeOack(negotiated.acknowledged) : null,
        timeoutMs: this.settings.timeoutMs,
        retries: this.settings.retries,
      });
    } finally {
      this.opening.delete(key);
    }
    this.transfers.set(key, { transfer, filename: packet.filename });
    transfer.start();
    const outcome = await transfer.done;
    if (this.transfers.get(key)?.transfer === transfer) this.transfers.delete(key);
    this.bytesSentByFinished += outcome.bytesSent;
    if (outcome.ok) {
      this.completed += 1;
    } else if (outcome.clientAborted) {
      this.abortedByClient += 1;
      this.logger.info({ client: key, file: packet.filename, reason: outcome.reason }, 'tftp: client ended the transfer');
    } else {
      this.failed += 1;
      this.logger.warn({ client: key, file: packet.filename, reason: outcome.reason }, 'tftp: transfer failed');
    }
  }

  /**
   * At maxTransfers a request is dropped, as dnsmasq does, not refused: PXE firmware treats
   * an error packet as a failed boot (and gives up after a few), but resends an unanswered
   * RRQ with backoff, so a rack booting at once is served as transfers finish.
   */
  private defer(client: string): void {
    this.deferred += 1;
    const now = Date.now();
    if (now - this.busyLoggedAt < 60_000) return;
    this.busyLoggedAt = now;
    this.logger.warn(
      { client, maxTransfers: this.settings.maxTransfers, deferredRequests: this.deferred },
      'tftp: at maxTransfers; read requests go unanswered until a transfer ends (clients resend them)',
    );
  }

  /** Errors before a transfer exists go from the listening port; clients accept the first reply from any port. */
  private refuse(rinfo: RemoteInfo, code: TftpErrorCode, message: string): void {
    this.refused += 1;
    if (this.stopping) return;
    this.socket.send(encodeError(code, message), rinfo.port, rinfo.address);
  }
}
