/**
 * A writer for the `newc` cpio format the Linux kernel unpacks an initramfs from
 * (Documentation/driver-api/early-userspace/buffer-format.rst). Only what an initramfs
 * needs: folders, regular files, symlinks and device nodes; no hard links.
 */

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer | string; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const hex = (n: number) => n.toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function record(ino: number, mode: number, name: string, data: Buffer, dev = { major: 0, minor: 0 }, nlink = 1): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const header = [
    '070701',
    hex(ino),
    hex(mode),
    hex(0), // uid: root
    hex(0), // gid: root
    hex(nlink),
    hex(0), // mtime: fixed, so the same inputs give the same bytes
    hex(data.length),
    hex(0), // dev major/minor of the archive's file system: meaningless here
    hex(0),
    hex(dev.major),
    hex(dev.minor),
    hex(nameBytes.length),
    hex(0), // check: only used by the crc format
  ].join('');
  const head = Buffer.concat([Buffer.from(header, 'ascii'), nameBytes]);
  return Buffer.concat([head, Buffer.alloc(pad4(head.length)), data, Buffer.alloc(pad4(data.length))]);
}

/** The archive's bytes, entries in the order given (a folder must come before what it holds). */
export function cpioArchive(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const entry of entries) {
    const path = entry.path.replace(/^\/+/, '');
    if (!path || path.split('/').includes('..')) throw new Error(`cpio: ${JSON.stringify(entry.path)} is not a path inside the archive`);
    switch (entry.type) {
      case 'dir':
        parts.push(record(ino++, S_IFDIR | (entry.mode ?? 0o755), path, Buffer.alloc(0), undefined, 2));
        break;
      case 'file':
        parts.push(record(ino++, S_IFREG | (entry.mode ?? 0o644), path, Buffer.isBuffer(entry.data) ? entry.data : Buffer.from(entry.data, 'utf8')));
        break;
      case 'symlink':
        parts.push(record(ino++, S_IFLNK | 0o777, path, Buffer.from(entry.target, 'utf8')));
        break;
      case 'char':
        parts.push(record(ino++, S_IFCHR | (entry.mode ?? 0o600), path, Buffer.alloc(0), { major: entry.major, minor: entry.minor }));
        break;
    }
  }
  parts.push(record(0, 0, 'TRAILER!!!', Buffer.alloc(0), undefined, 1));
  const archive = Buffer.concat(parts);
  // The kernel reads the archive in 512-byte blocks; padding the end is customary.
  return Buffer.concat([archive, Buffer.alloc((512 - (archive.length % 512)) % 512)]);
}
