/**
 * The read-only TFTP server machines PXE-boot from: it listens for requests, answers each
 * read with a ReadTransfer on a fresh socket and keeps the counters the heartbeat shows.
 * It never writes to disk and never serves a file outside its root.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { realpath, stat } from 'node:fs/promises';
import { SproutError } from '@sprout/kernel/sdk';
import { lookUpBootFile } from './boot-file-path.ts';
import { negotiateOptions } from './options.ts';
import { openTransfer, type AcceptedTransfer, type OpenedTransfer } from './open-transfer.ts';
import { decodePacket, encodeError, tftpErrors, type TftpErrorCode } from './packets.ts';
import type { ReadTransfer, TransferOutcome } from './read-transfer.ts';
import type { TftpSettings } from './settings.ts';
import { SharedFiles } from './shared-files.ts';
import { TransferWorkers, type DelegatedTransfer, type TransferWorkerState } from './transfer-workers.ts';
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
  /** DATA payload bytes sent, retransmissions included (workers' counts lag by up to 200 ms). */
  bytesSent: number;
  /** With settings `workers`: each transfer worker process. */
  workers?: TransferWorkerState[];
}

/** How long start() waits for the transfer workers to load. */
const workerStartMs = 10_000;

export class TftpServer {
  /** Running transfers by client address and port, with the file each one asked for; `local`: in this process, not a worker. */
  private readonly transfers = new Map<string, { transfer: ReadTransfer | DelegatedTransfer; filename: string; local: boolean }>();
  /** Transfers running in this process (the others run in workers). */
  private localTransfers = 0;
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
    private readonly workers: TransferWorkers | undefined,
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
    let workers: TransferWorkers | undefined;
    if (settings.workers > 0) {
      workers = new TransferWorkers(settings.workers, settings.sharedFileMaxBytes, (message) => logger.warn({ service: 'tftp' }, `tftp: ${message}`));
      // Until a worker is ready, this process runs every transfer itself.
      if (!(await workers.ready(workerStartMs))) logger.warn({ workers: settings.workers }, `tftp: not all workers started within ${workerStartMs} ms`);
    }
    return new TftpServer(settings, rootReal, socket, logger, workers);
  }

  health(): TftpServerHealth {
    let bytesSent = this.bytesSentByFinished;
    for (const { transfer, local } of this.transfers.values()) if (local) bytesSent += (transfer as ReadTransfer).bytesSent;
    if (this.workers) bytesSent += this.workers.bytesSent();
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
      ...(this.workers ? { workers: this.workers.states() } : {}),
    };
  }

  /** Stops listening, ends every transfer with an error packet and waits for their sockets to close. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
    const running = [...this.transfers.values()].filter(({ local }) => local).map(({ transfer }) => transfer as ReadTransfer);
    for (const transfer of running) transfer.abort('Server shutting down', 'server');
    // Workers end their own transfers the same way; their outcomes arrive before they exit.
    await Promise.all([...running.map((transfer) => transfer.done), this.workers?.stop()]);
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

    const found = await this.lookUp(rinfo, key, packet.filename);
    if (!found || this.stopping) return;
    const negotiated = negotiateOptions(packet.options, found.size, { maxBlksize: this.settings.maxBlksize });
    const accepted: AcceptedTransfer = {
      peer: { address: rinfo.address, port: rinfo.port },
      path: found.path,
      size: found.size,
      blksize: negotiated.blksize,
      windowsize: negotiated.windowsize,
      acknowledged: [...negotiated.acknowledged],
      bindAddress: this.settings.address,
      timeoutMs: this.settings.timeoutMs,
      retries: this.settings.retries,
    };
    // The least loaded of the workers and this process; a tie goes to a worker, leaving this one to the requests.
    const delegated = this.workers && this.workers.leastLoad() <= this.localTransfers + this.opening.size ? this.workers.run(accepted) : null;
    if (delegated) return this.runDelegated(rinfo, key, packet.filename, delegated);

    this.opening.add(key);
    let opened: OpenedTransfer;
    try {
      opened = await openTransfer(accepted, this.sharedFiles, () => this.stopping);
    } finally {
      this.opening.delete(key);
    }
    if (!opened.ok) {
      if (opened.code === null) return;
      if (opened.log) this.logger.warn({ client: key, file: packet.filename, reason: opened.log }, 'tftp: request failed');
      return this.refuse(rinfo, opened.code, opened.message);
    }
    const { transfer } = opened;
    this.transfers.set(key, { transfer, filename: packet.filename, local: true });
    this.localTransfers += 1;
    transfer.start();
    const outcome = await transfer.done;
    this.localTransfers -= 1;
    if (this.transfers.get(key)?.transfer === transfer) this.transfers.delete(key);
    this.bytesSentByFinished += outcome.bytesSent;
    this.count(key, packet.filename, outcome);
  }

  /** Resolves the requested name inside the root; null when the request was refused (and answered). */
  private async lookUp(rinfo: RemoteInfo, key: string, filename: string): Promise<{ path: string; size: number } | null> {
    this.opening.add(key);
    try {
      const found = await lookUpBootFile(this.rootReal, filename);
      if (found.ok) return found;
      if (found.code === tftpErrors.accessViolation) this.logger.warn({ client: key, file: filename }, `tftp: refused: ${found.message}`);
      else this.logger.info({ client: key, file: filename }, 'tftp: file not found');
      this.refuse(rinfo, found.code, found.message);
      return null;
    } finally {
      this.opening.delete(key);
    }
  }

  private async runDelegated(rinfo: RemoteInfo, key: string, filename: string, transfer: DelegatedTransfer): Promise<void> {
    this.transfers.set(key, { transfer, filename, local: false });
    const result = await transfer.done;
    if (this.transfers.get(key)?.transfer === transfer) this.transfers.delete(key);
    if ('refused' in result) {
      if (result.refused.log) this.logger.warn({ client: key, file: filename, reason: result.refused.log }, 'tftp: request failed');
      return this.refuse(rinfo, result.refused.code, result.refused.message);
    }
    this.count(key, filename, result.outcome);
  }

  private count(key: string, filename: string, outcome: TransferOutcome): void {
    if (outcome.ok) {
      this.completed += 1;
    } else if (outcome.clientAborted) {
      this.abortedByClient += 1;
      this.logger.info({ client: key, file: filename, reason: outcome.reason }, 'tftp: client ended the transfer');
    } else {
      this.failed += 1;
      this.logger.warn({ client: key, file: filename, reason: outcome.reason }, 'tftp: transfer failed');
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
