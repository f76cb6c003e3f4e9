/**
 * The agent's image store: the files in `<artifactRoot>/images/` that HTTP boot serves to
 * installers by name. `list()` is what every heartbeat reports: name, size, format (read
 * from the file's first bytes) and sha256 — from a manifest next to the file
 * (`<name>.manifest.json`, as `sprout artifacts build-image` and imports write it) when
 * its size matches, else computed once in the background (one file at a time) and kept
 * in `<dataDir>/image-digests.json` by size and mtime; until then it is null.
 *
 * Imports (from a URL the agent can reach, or a path on its host) stream into a hidden
 * file in the same folder, hashing as they go, and are renamed into place only when the
 * sum is the one the operator gave: a deploy never sees a half-written or wrong image.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { imageNamePattern, writePrivateFile, type ReportedImage } from '@sprout/kernel/sdk';
import { sha256Of } from '../services/http-boot/artifacts.ts';

const manifestSuffix = '.manifest.json';
const validName = new RegExp(imageNamePattern);

/** Magic numbers of the formats an installer must not write to a disk as they are. */
const magics: [string, Buffer][] = [
  ['qcow2', Buffer.from('QFI\xfb', 'latin1')],
  ['gzip', Buffer.from([0x1f, 0x8b])],
  ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ['bzip2', Buffer.from('BZh', 'latin1')],
  ['vmdk', Buffer.from('KDMV', 'latin1')],
  ['vhdx', Buffer.from('vhdxfile', 'latin1')],
];

/** The format of an image file by its first bytes; anything else is `raw`. */
export function sniffFormat(path: string): string {
  const head = Buffer.alloc(8);
  const fd = openSync(path, 'r');
  try {
    const read = readSync(fd, head, 0, head.length, 0);
    return magics.find(([, magic]) => read >= magic.length && head.subarray(0, magic.length).equals(magic))?.[0] ?? 'raw';
  } finally {
    closeSync(fd);
  }
}

interface Digest {
  size: number;
  mtimeMs: number;
  sha256: string;
  format: string;
}

export interface ImportSource {
  name: string;
  url?: string;
  path?: string;
  sha256: string;
}

export class ImageStore {
  readonly dir: string;
  private readonly cacheFile: string;
  private digests: Record<string, Digest>;
  private hashing: Promise<void> = Promise.resolve();
  private readonly queued = new Set<string>();

  constructor(private readonly deps: { artifactRoot: string; dataDir: string; onChange: () => void; logger: { warn(o: object, m?: string): void } }) {
    this.dir = join(deps.artifactRoot, 'images');
    this.cacheFile = join(deps.dataDir, 'image-digests.json');
    try {
      this.digests = existsSync(this.cacheFile) ? JSON.parse(readFileSync(this.cacheFile, 'utf8')) : {};
    } catch {
      this.digests = {};
    }
  }

  /** The images now in the folder (none when it does not exist). */
  list(): ReportedImage[] {
    let names: string[];
    try {
      names = readdirSync(this.dir)
        .filter((n) => validName.test(n) && !n.endsWith(manifestSuffix))
        .sort();
    } catch {
      return [];
    }
    const images: ReportedImage[] = [];
    for (const name of names) {
      const path = join(this.dir, name);
      let stat;
      try {
        stat = statSync(path);
      } catch {
        continue;
      }
      if (!stat.isFile()) continue;
      const known = this.known(name, stat.size, stat.mtimeMs);
      if (!known) this.hashLater(name);
      images.push({ name, size: stat.size, sha256: known?.sha256 ?? null, format: known?.format ?? safeSniff(path) });
    }
    return images.slice(0, 1000);
  }

  /** What is known of a file without reading it: its cached digest, or its manifest's. */
  private known(name: string, size: number, mtimeMs: number): Pick<Digest, 'sha256' | 'format'> | null {
    const cached = this.digests[name];
    if (cached && cached.size === size && cached.mtimeMs === mtimeMs) return cached;
    try {
      const manifest = JSON.parse(readFileSync(join(this.dir, `${name}${manifestSuffix}`), 'utf8'));
      if (manifest.size === size && typeof manifest.sha256 === 'string' && /^[0-9a-f]{64}$/.test(manifest.sha256)) {
        return { sha256: manifest.sha256, format: typeof manifest.format === 'string' ? manifest.format : safeSniff(join(this.dir, name)) };
      }
    } catch {
      // no manifest, or not one we can use: the sum is computed
    }
    return null;
  }

  private hashLater(name: string): void {
    if (this.queued.has(name)) return;
    this.queued.add(name);
    this.hashing = this.hashing.then(async () => {
      try {
        const path = join(this.dir, name);
        const stat = statSync(path);
        const sha256 = await sha256Of(path, stat.size, stat.mtimeMs);
        this.remember(name, { size: stat.size, mtimeMs: stat.mtimeMs, sha256, format: sniffFormat(path) });
        this.deps.onChange();
      } catch (err) {
        this.deps.logger.warn({ image: name, err: (err as Error).message }, 'could not compute the sha256 of an image; will try again');
      } finally {
        this.queued.delete(name);
      }
    });
  }

  private remember(name: string, digest: Digest | null): void {
    if (digest) this.digests[name] = digest;
    else delete this.digests[name];
    // Only files still there are kept.
    for (const known of Object.keys(this.digests)) if (!existsSync(join(this.dir, known))) delete this.digests[known];
    writePrivateFile(this.cacheFile, JSON.stringify(this.digests));
  }

  /**
   * Downloads (url) or copies (path) an image into the store under `name`; the sum must be
   * `sha256`, else nothing changes. Replaces an image of that name atomically.
   */
  async import(source: ImportSource, log: (line: string) => void): Promise<{ name: string; size: number; sha256: string; format: string; replaced: boolean }> {
    if (!validName.test(source.name)) throw new Error(`"${source.name}" cannot name an image: letters, digits, . _ + - (not starting with a dot)`);
    const expected = source.sha256.toLowerCase();
    mkdirSync(this.dir, { recursive: true });
    const target = join(this.dir, source.name);
    const partial = join(this.dir, `.import-${source.name}-${randomUUID()}`);
    const from = source.url ?? source.path!;
    let input: Readable;
    if (source.url) {
      const response = await fetch(source.url, { signal: AbortSignal.timeout(24 * 3600_000) });
      if (!response.ok || !response.body) throw new Error(`downloading ${source.url} answered HTTP ${response.status}`);
      input = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
    } else {
      if (!existsSync(source.path!) || !statSync(source.path!).isFile()) throw new Error(`${source.path} is not a file on the agent's host`);
      input = createReadStream(source.path!);
    }
    log(`importing ${source.name} from ${from}`);
    const hash = createHash('sha256');
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(input, counter, createWriteStream(partial, { mode: 0o644 }));
      const fd = openSync(partial, 'r');
      fsyncSync(fd);
      closeSync(fd);
      const sha256 = hash.digest('hex');
      if (sha256 !== expected) throw new Error(`sha256 mismatch for ${from}: expected ${expected}, got ${sha256} (${size} bytes); the store is unchanged`);
      const format = sniffFormat(partial);
      const replaced = existsSync(target);
      rmSync(join(this.dir, `${source.name}${manifestSuffix}`), { force: true });
      renameSync(partial, target);
      const stat = statSync(target);
      writeFileSync(
        join(this.dir, `${source.name}${manifestSuffix}`),
        `${JSON.stringify({ name: source.name, size, sha256, format, importedAt: new Date().toISOString(), source: from }, null, 2)}\n`,
      );
      this.remember(source.name, { size, mtimeMs: stat.mtimeMs, sha256, format });
      log(`${source.name}: ${size} bytes, sha256 ${sha256}, ${format}${replaced ? ' (replaced the image of that name)' : ''}`);
      this.deps.onChange();
      return { name: source.name, size, sha256, format, replaced };
    } finally {
      rmSync(partial, { force: true });
    }
  }

  /** Removes an image (and its manifest) from the store; an image already gone is not an error. */
  remove(name: string, log: (line: string) => void): { name: string; removed: boolean } {
    if (!validName.test(name)) throw new Error(`"${name}" is not an image name`);
    const path = join(this.dir, name);
    const removed = existsSync(path);
    rmSync(path, { force: true });
    rmSync(join(this.dir, `${name}${manifestSuffix}`), { force: true });
    this.remember(name, null);
    log(removed ? `removed ${name} from ${this.dir}` : `${name} was not in ${this.dir}`);
    this.deps.onChange();
    return { name, removed };
  }
}

function safeSniff(path: string): string | null {
  try {
    return sniffFormat(path);
  } catch {
    return null;
  }
}
