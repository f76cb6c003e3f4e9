/**
 * Fetches a boot file the way PXE firmware does: an RRQ asking for blksize and tsize
 * (RFC 1350, 2347–2349), lock-step ACKs from its own port, the server's transfer port
 * learned from its first answer. The file is hashed as it arrives, never kept, and a
 * transfer whose length differs from the announced tsize fails.
 */
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { decodePacket, encodeAck, encodeError, encodeRequest, tftpErrors } from '../services/tftp/packets.ts';

export interface TftpDownload {
  bytes: number;
  sha256: string;
  /** The size the server announced, if it answered tsize. */
  tsize?: number;
  blksize: number;
}

export interface TftpRequest {
  host: string;
  port: number;
  file: string;
  /** The address to send from (the machine's own, where the host has it). */
  localAddress?: string;
  signal: AbortSignal;
  timeoutMs?: number;
  retries?: number;
}

const askedBlksize = 1468;

export function tftpDownload({ host, port, file, localAddress, signal, timeoutMs = 1000, retries = 5 }: TftpRequest): Promise<TftpDownload> {
  return new Promise<TftpDownload>((resolve, reject) => {
    const socket = createSocket('udp4');
    const hash = createHash('sha256');
    let peer: { address: string; port: number } | undefined;
    let blksize = 512;
    let tsize: number | undefined;
    let expected = 1;
    let bytes = 0;
    let last = {
      packet: encodeRequest(
        'RRQ',
        file,
        'octet',
        new Map([
          ['blksize', String(askedBlksize)],
          ['tsize', '0'],
        ]),
      ),
      address: host,
      port,
    };
    let retriesLeft = retries;
    let settled = false;
    const timer = setTimeout(() => onTimeout(), timeoutMs);
    const finish = (err: Error | null, result?: TftpDownload) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', aborted);
      socket.close();
      if (err) reject(err);
      else resolve(result!);
    };
    const aborted = () => finish(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    const send = (packet: Buffer, to: { address: string; port: number }) => {
      last = { packet, ...to };
      socket.send(packet, to.port, to.address);
    };
    const onTimeout = () => {
      if (retriesLeft-- <= 0) return finish(new Error(`TFTP ${file} from ${host}:${port}: no answer after ${retries} resends (${bytes} bytes received)`));
      socket.send(last.packet, last.port, last.address);
      timer.refresh();
    };
    socket.on('error', (err) => finish(new Error(`TFTP ${file} from ${host}:${port}: ${err.message}`)));
    socket.on('message', (message, rinfo) => {
      if (!peer) peer = { address: rinfo.address, port: rinfo.port };
      else if (rinfo.address !== peer.address || rinfo.port !== peer.port) {
        // Someone else's transfer ID: tell them, and carry on with ours (RFC 1350 §4).
        socket.send(encodeError(tftpErrors.unknownTransferId, 'unknown transfer ID'), rinfo.port, rinfo.address);
        return;
      }
      const packet = decodePacket(message);
      if (!packet) return;
      if (packet.op === 'ERROR') return finish(new Error(`TFTP ${file} from ${host}:${port}: error ${packet.code}: ${packet.message}`));
      if (packet.op === 'OACK' && expected === 1 && bytes === 0) {
        blksize = Number(packet.options.get('blksize') ?? 512);
        if (packet.options.has('tsize')) tsize = Number(packet.options.get('tsize'));
        if (!(blksize >= 8 && blksize <= askedBlksize))
          return finish(new Error(`TFTP ${file}: the server granted blksize ${packet.options.get('blksize')}, not within 8–${askedBlksize}`));
        retriesLeft = retries;
        timer.refresh();
        return send(encodeAck(0), peer);
      }
      if (packet.op !== 'DATA') return;
      if (packet.block === ((expected - 1) & 0xffff)) return send(encodeAck(packet.block), peer); // our ACK was lost
      if (packet.block !== (expected & 0xffff)) return;
      hash.update(packet.data);
      bytes += packet.data.length;
      expected += 1;
      retriesLeft = retries;
      timer.refresh();
      if (packet.data.length >= blksize) return send(encodeAck(packet.block), peer);
      // The last ACK must leave before the socket closes, or the server resends until it gives up.
      clearTimeout(timer);
      const result: TftpDownload = { bytes, sha256: hash.digest('hex'), tsize, blksize };
      socket.send(encodeAck(packet.block), peer.port, peer.address, () =>
        tsize !== undefined && tsize !== bytes
          ? finish(new Error(`TFTP ${file}: received ${bytes} bytes, but the server announced tsize ${tsize}`))
          : finish(null, result),
      );
    });
    if (signal.aborted) return aborted();
    signal.addEventListener('abort', aborted, { once: true });
    socket.bind(0, localAddress, () => socket.send(last.packet, last.port, last.address));
  });
}
