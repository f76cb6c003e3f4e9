/**
 * Boot files held in memory while transfers send them: the first transfer of a file reads
 * it whole, every transfer of the same file that starts meanwhile (a rack PXE-booting at
 * once) sends from that one buffer, and the buffer is dropped when the last of them ends.
 * It never holds a file above `maxFileBytes`, nor more than `maxHeldBytes` in all: those
 * transfers read from disk in chunks as before.
 */
import type { FileHandle } from 'node:fs/promises';

/** A file's content as held for one transfer; `release` once that transfer has ended. */
export interface HeldFile {
  bytes: Buffer;
  release(): void;
}

/** What tells two versions of a file apart: a file replaced or rewritten is another entry. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

interface Entry {
  bytes: Promise<Buffer>;
  size: number;
  users: number;
}

export class SharedFiles {
  private readonly entries = new Map<string, Entry>();
  private heldBytes = 0;

  constructor(
    private readonly maxFileBytes: number,
    private readonly maxHeldBytes: number,
  ) {}

  /** Bytes held now, for health. */
  get held(): number {
    return this.heldBytes;
  }

  /**
   * The file's content, read from `file` only if no running transfer holds this version
   * already; undefined when it is too large to hold (the caller reads from disk). Rejects
   * when the read fails or returns fewer bytes than `identity.size` (the file shrank).
   */
  async acquire(path: string, identity: FileIdentity, file: FileHandle): Promise<HeldFile | undefined> {
    const key = `${identity.dev}:${identity.ino}:${identity.size}:${identity.mtimeMs}:${path}`;
    let entry = this.entries.get(key);
    if (!entry) {
      if (identity.size > this.maxFileBytes || this.heldBytes + identity.size > this.maxHeldBytes) return undefined;
      entry = { bytes: readWhole(file, identity.size), size: identity.size, users: 0 };
      this.entries.set(key, entry);
      this.heldBytes += entry.size;
    }
    const held = entry;
    held.users += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      held.users -= 1;
      if (held.users > 0 || this.entries.get(key) !== held) return;
      this.entries.delete(key);
      this.heldBytes -= held.size;
    };
    try {
      return { bytes: await held.bytes, release };
    } catch (err) {
      release();
      throw err;
    }
  }
}

async function readWhole(file: FileHandle, size: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafeSlow(size);
  let at = 0;
  while (at < size) {
    const { bytesRead } = await file.read(bytes, at, size - at, at);
    if (bytesRead === 0) throw new Error(`file shrank while it was read (${at} of ${size} bytes)`);
    at += bytesRead;
  }
  return bytes;
}
