/**
 * Where the server's and the agent's log lines go: a file descriptor (stdout by default)
 * written synchronously, as pino's default does, but a log that cannot be written (a full
 * disk: ENOSPC, a closed pipe, an I/O error) never stops or crashes the process. Lines
 * that could not be written are counted and the count is logged by the first line that
 * can be written again. It must never throw into the code that logs.
 */
import { writeSync } from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));

export interface LogDestination {
  write(line: string): void;
  /** Lines lost so far because the descriptor refused them. */
  readonly dropped: number;
}

export function logDestination(fd = 1): LogDestination {
  let dropped = 0;
  let lastError = '';
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
  return {
    get dropped() {
      return dropped;
    },
    write(line: string) {
      if (
        dropped > 0 &&
        !writeAll(`${JSON.stringify({ level: 40, time: Date.now(), msg: `${dropped} log lines were lost: the log could not be written (${lastError})` })}\n`)
      ) {
        dropped++;
        return;
      }
      if (dropped > 0) dropped = 0;
      if (!writeAll(line)) dropped++;
    },
  };
}
