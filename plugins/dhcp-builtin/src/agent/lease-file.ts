/**
 * `<dataDir>/dhcp/leases.json` and its journal: the bound leases and quarantined
 * addresses. The snapshot is written atomically (temporary file, fsync, rename); every
 * change after it is appended to the journal the snapshot names, and a batch of changes
 * counts as written only once fsync returned — the DHCP service sends an ACK only then.
 * A crash leaves the snapshot and a journal whose last line may be torn (its ACKs never
 * left), never a lease that was acknowledged and is not on disk.
 */
import { closeSync, existsSync, fchmodSync, fsyncSync, ftruncateSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SproutError, ensurePrivateDir } from '@sprout/kernel/sdk';
import type { Lease, LeaseChange, LeaseSnapshot } from './lease-table.ts';

/** 1: a snapshot alone (agents before the journal); 2: a snapshot naming its journal. */
const version = 2;

const isLease = (l: unknown): l is Lease =>
  typeof l === 'object' &&
  l !== null &&
  typeof (l as Lease).mac === 'string' &&
  typeof (l as Lease).address === 'string' &&
  typeof (l as Lease).networkId === 'string' &&
  typeof (l as Lease).expiresAt === 'number';
const isQuarantine = (q: unknown): q is { address: string; until: number } =>
  typeof q === 'object' && q !== null && typeof (q as { address: unknown }).address === 'string' && typeof (q as { until: unknown }).until === 'number';

function fsyncFolder(folder: string): void {
  const fd = openSync(folder, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class LeaseFile {
  /** `bytes`: the journal's length after the last complete append. */
  private journal?: { name: string; handle: FileHandle; generation: number; bytes: number };
  /** Changes appended since the last snapshot. */
  private appended = 0;

  constructor(private readonly file: string) {}

  /** Changes in the journal since the snapshot: compact when this grows large. */
  get journalLength(): number {
    return this.appended;
  }

  /** The snapshot with its journal replayed in order. */
  read(): LeaseSnapshot {
    const file = this.file;
    if (!existsSync(file)) return { leases: [], quarantine: [] };
    let parsed: { version?: number; leases?: unknown; quarantine?: unknown; journal?: unknown };
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed;
    } catch (err) {
      // Starting empty could hand live leases' addresses to other machines: the operator decides.
      throw new SproutError(
        'SPROUT_ERR_CONFIG',
        `the DHCP lease file ${file} is unreadable (${(err as Error).message}); move it away to start with no leases, knowing addresses still in use may be offered again`,
        { context: { file }, cause: err },
      );
    }
    if (parsed?.version !== 1 && parsed?.version !== version)
      throw new SproutError(
        'SPROUT_ERR_CONFIG',
        `the DHCP lease file ${file} has version ${String(parsed?.version)}; this agent reads versions 1 and ${version}`,
        { context: { file } },
      );
    const byMac = new Map<string, Lease>();
    for (const lease of Array.isArray(parsed.leases) ? parsed.leases : []) if (isLease(lease)) byMac.set(lease.mac, lease);
    const quarantine = new Map<string, number>();
    for (const q of Array.isArray(parsed.quarantine) ? parsed.quarantine : []) if (isQuarantine(q)) quarantine.set(q.address, q.until);
    if (typeof parsed.journal === 'string' && /^[\w.-]+$/.test(parsed.journal)) this.replay(join(dirname(file), parsed.journal), byMac, quarantine);
    return { leases: [...byMac.values()], quarantine: [...quarantine].map(([address, until]) => ({ address, until })) };
  }

  private replay(journal: string, byMac: Map<string, Lease>, quarantine: Map<string, number>): void {
    if (!existsSync(journal)) return;
    const lines = readFileSync(journal, 'utf8').split('\n');
    for (const [i, line] of lines.entries()) {
      if (line === '') continue;
      let change: Partial<Record<'put' | 'remove' | 'quarantine', unknown>>;
      try {
        change = JSON.parse(line) as typeof change;
      } catch (err) {
        // The last line may be torn by a crash mid-append: its ACKs never left.
        if (i === lines.length - 1) return;
        throw new SproutError(
          'SPROUT_ERR_CONFIG',
          `the DHCP lease journal ${journal} is unreadable at line ${i + 1} (${(err as Error).message}); move it and ${this.file} away to start with no leases, knowing addresses still in use may be offered again`,
          { context: { file: journal }, cause: err },
        );
      }
      if (isLease(change.put)) {
        const lease = change.put;
        // Changes are in the order they happened: a later claim on an address wins.
        for (const [mac, held] of byMac) if (held.address === lease.address && mac !== lease.mac) byMac.delete(mac);
        byMac.set(lease.mac, lease);
      } else if (typeof change.remove === 'string') byMac.delete(change.remove);
      else if (isQuarantine(change.quarantine)) quarantine.set(change.quarantine.address, change.quarantine.until);
    }
  }

  /**
   * Writes the snapshot and starts an empty journal. Order matters for a crash between
   * steps: the new journal exists before the snapshot names it, and the old one goes
   * only once the snapshot no longer names it.
   */
  async compact(snapshot: LeaseSnapshot): Promise<void> {
    const folder = dirname(this.file);
    ensurePrivateDir(folder);
    const previous = this.journal;
    const generation = (previous?.generation ?? 0) + 1;
    const name = `${basename(this.file)}.${process.pid}-${generation}.journal`;
    const handle = await open(join(folder, name), 'w', 0o600);
    const temporary = `${this.file}.${process.pid}.tmp`;
    const fd = openSync(temporary, 'w', 0o600);
    try {
      fchmodSync(fd, 0o600); // a temporary left by a crash keeps its old mode otherwise
      writeSync(fd, JSON.stringify({ version, journal: name, ...snapshot }, null, 1));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.file);
    fsyncFolder(folder);
    this.journal = { name, handle, generation, bytes: 0 };
    this.appended = 0;
    if (previous) {
      await previous.handle.close();
      rmSync(join(folder, previous.name), { force: true });
    }
    // A journal left by an earlier process whose snapshot we just replaced.
    for (const stale of readdirJournals(folder, basename(this.file))) if (stale !== name) rmSync(join(folder, stale), { force: true });
  }

  /**
   * Appends the changes and resolves once they are on disk (fdatasync). The write goes
   * to the page cache at once, on the caller's thread (microseconds, and no other write
   * to the journal is in flight: the service commits one batch at a time); only the
   * fdatasync waits on the thread pool, so a commit costs one round trip to it, not two.
   * A failed append is cut off again, so the next one does not follow a torn line.
   */
  async append(changes: LeaseChange[]): Promise<void> {
    if (!this.journal) throw new Error('the lease file is not open: compact() first');
    if (changes.length === 0) return;
    const journal = this.journal;
    let lines = '';
    for (const change of changes) lines += `${JSON.stringify(change)}\n`;
    const bytes = Buffer.from(lines);
    try {
      for (let at = 0; at < bytes.length; ) at += writeSync(journal.handle.fd, bytes, at, bytes.length - at, journal.bytes + at);
      await journal.handle.datasync();
    } catch (err) {
      try {
        ftruncateSync(journal.handle.fd, journal.bytes);
      } catch {
        // The append's own error is the one to report; a torn tail is skipped on replay.
      }
      throw err;
    }
    journal.bytes += bytes.length;
    this.appended += changes.length;
  }

  async close(): Promise<void> {
    await this.journal?.handle.close();
    this.journal = undefined;
  }
}

function readdirJournals(folder: string, base: string): string[] {
  return readdirSync(folder).filter((f) => f.startsWith(`${base}.`) && f.endsWith('.journal'));
}

/** Reads the lease file (snapshot and journal) without opening it for writing. */
export function readLeaseFile(file: string): LeaseSnapshot {
  return new LeaseFile(file).read();
}
