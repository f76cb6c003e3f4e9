/**
 * Turns an accepted read request into a ReadTransfer: opens the file, holds its content
 * (SharedFiles), binds the transfer's own socket. Used by the agent's process and by its
 * transfer workers alike; it checks nothing about the request (the server did that).
 */
import { open } from 'node:fs/promises';
import { tftpErrors, encodeOack, type TftpErrorCode } from './packets.ts';
import { ReadTransfer } from './read-transfer.ts';
import type { HeldFile, SharedFiles } from './shared-files.ts';
import { createTftpSocket } from './udp-socket.ts';

/** An accepted transfer: what the server decided, as plain data (it crosses to a worker process). */
export interface AcceptedTransfer {
  peer: { address: string; port: number };
  /** Resolved inside the root by lookUpBootFile. */
  path: string;
  /** The size the options (tsize) were negotiated with. */
  size: number;
  blksize: number;
  windowsize: number;
  /** Options to acknowledge in an OACK, in order; empty: no OACK. */
  acknowledged: [string, string][];
  /** The listening address: the transfer's socket binds to it, so replies come from the address the client asked. */
  bindAddress: string;
  timeoutMs: number;
  retries: number;
}

export type OpenedTransfer =
  | { ok: true; transfer: ReadTransfer }
  /** Answer the client with this error packet; `log` says why for the operator, when it is worth a warning. */
  | { ok: false; code: TftpErrorCode; message: string; log?: string }
  /** The server is stopping: nothing is sent. */
  | { ok: false; code: null };

export async function openTransfer(
  accepted: AcceptedTransfer,
  sharedFiles: SharedFiles,
  stopping: () => boolean,
  onProgress?: () => void,
): Promise<OpenedTransfer> {
  const file = await open(accepted.path, 'r').catch(() => null);
  if (!file) return { ok: false, code: tftpErrors.accessViolation, message: 'Access violation: cannot open file' };
  const info = await file.stat().catch(() => null);
  // tsize went out with the size seen at lookup; a file replaced since would not match it.
  if (info && info.size !== accepted.size) {
    await file.close();
    return {
      ok: false,
      code: tftpErrors.notDefined,
      message: 'File changed',
      log: `file changed size between lookup and open (${accepted.size} → ${info.size})`,
    };
  }
  let content: HeldFile | undefined;
  if (info) {
    try {
      content = await sharedFiles.acquire(accepted.path, info, file);
    } catch (err) {
      await file.close();
      return { ok: false, code: tftpErrors.notDefined, message: 'Read error', log: `file could not be read: ${(err as Error).message}` };
    }
  }
  const socket = createTftpSocket(accepted.bindAddress);
  const bound = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(0, accepted.bindAddress, () => resolve(true));
  });
  if (!bound || stopping()) {
    socket.close();
    content?.release();
    await file.close();
    return bound ? { ok: false, code: null } : { ok: false, code: tftpErrors.notDefined, message: 'Cannot open a transfer socket' };
  }
  socket.removeAllListeners('error');
  const transfer = new ReadTransfer({
    socket,
    peer: accepted.peer,
    file,
    content,
    size: accepted.size,
    blksize: accepted.blksize,
    windowsize: accepted.windowsize,
    oack: accepted.acknowledged.length > 0 ? encodeOack(new Map(accepted.acknowledged)) : null,
    timeoutMs: accepted.timeoutMs,
    retries: accepted.retries,
    onProgress,
  });
  return { ok: true, transfer };
}
