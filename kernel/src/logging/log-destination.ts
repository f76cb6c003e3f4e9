/**
 * Where the server's and the agent's log lines go: a file descriptor (stdout by default).
 * Lines logged in one turn of the event loop are written together, in one write when the
 * turn ends (or at once past 64 KiB): at the API's request rates one write per request
 * line cost a quarter of a GET's time. What is pending is written before the process
 * exits (also after an uncaught exception); only a SIGKILL can lose it, at most one
 * turn's lines. A log that cannot be written (a full disk: ENOSPC, a closed pipe, an I/O
 * error) never stops or crashes the process: lines that could not be written are counted
 * and the count is logged by the first line that can be written again. It must never
 * throw into the code that logs.
 */
import { writeSync } from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));
/** Written at once when this much is pending, rather than at the end of the turn. */
const flushBytes = 64 * 1024;
/** Every destination's pending lines are written when the process exits (one listener for all). */
const flushers = new Set<() => void>();
process.once('exit', () => {
  for (const flush of flushers) flush();
});

export interface LogDestination {
  write(line: string): void;
  /** Writes what is pending now. */
  flushSync(): void;
  /** pino's `logger.flush(cb)`: writes what is pending, then calls back. */
  flush(callback?: (err?: Error) => void): void;
  /** Lines lost so far because the descriptor refused them. */
  readonly dropped: number;
}

export function logDestination(fd = 1): LogDestination {
  let dropped = 0;
  let lastError = '';
  let pending: string[] = [];
  let pendingBytes = 0;
  let scheduled = false;
  const writeAll = (text: string): boolean => {
    let buffer = Buffer.from(text);
    // EAGAIN: a non-blocking pipe that is full; wait a little, a bounded number of times.
    for (let attempt = 0; attempt < 200 && buffer.length > 0; ) {
      try {
        buffer = buffer.subarray(writeSync(fd, buffer));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        if (code !== 'EAGAIN' || ++attempt >= 200) {
          lastError = code;
          return false;
        }
        Atomics.wait(pause, 0, 0, 5);
      }
    }
    return buffer.length === 0;
  };
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const lines = pending;
    pending = [];
    pendingBytes = 0;
    if (
      dropped > 0 &&
      !writeAll(`${JSON.stringify({ level: 40, time: Date.now(), msg: `${dropped} log lines were lost: the log could not be written (${lastError})` })}\n`)
    ) {
      dropped += lines.length;
      return;
    }
    dropped = 0;
    // A write that failed part way: count the lines as lost (the part written is not told apart).
    if (!writeAll(lines.join(''))) dropped += lines.length;
  };
  flushers.add(flush);
  return {
    get dropped() {
      return dropped;
    },
    flushSync: flush,
    flush(callback) {
      flush();
      callback?.();
    },
    write(line: string) {
      pending.push(line);
      pendingBytes += line.length;
      if (pendingBytes >= flushBytes) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
  };
}
