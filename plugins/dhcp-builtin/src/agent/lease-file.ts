/**
 * `<dataDir>/dhcp/leases.json`: the bound leases and quarantined addresses, written
 * atomically (temporary file, fsync, rename) so a crash leaves the old or the new file,
 * never half of one.
 */
import { closeSync, existsSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { SproutError, ensurePrivateDir } from '@sprout/kernel';
import type { Lease, LeaseSnapshot } from './lease-table.ts';

const version = 1;

export function readLeaseFile(file: string): LeaseSnapshot {
  if (!existsSync(file)) return { leases: [], quarantine: [] };
  let parsed: { version?: number; leases?: unknown; quarantine?: unknown };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed;
  } catch (err) {
    // Starting empty could hand live leases' addresses to other machines: the operator decides.
    throw new SproutError('SPROUT_ERR_CONFIG', `the DHCP lease file ${file} is unreadable (${(err as Error).message}); move it away to start with no leases, knowing addresses still in use may be offered again`, { context: { file }, cause: err });
  }
  if (parsed?.version !== version) throw new SproutError('SPROUT_ERR_CONFIG', `the DHCP lease file ${file} has version ${String(parsed?.version)}; this agent reads version ${version}`, { context: { file } });
  const leases = (Array.isArray(parsed.leases) ? parsed.leases : []).filter(
    (l): l is Lease => typeof l === 'object' && l !== null && typeof l.mac === 'string' && typeof l.address === 'string' && typeof l.networkId === 'string' && typeof l.expiresAt === 'number',
  );
  const quarantine = (Array.isArray(parsed.quarantine) ? parsed.quarantine : []).filter(
    (q): q is { address: string; until: number } => typeof q === 'object' && q !== null && typeof q.address === 'string' && typeof q.until === 'number',
  );
  return { leases, quarantine };
}

export function writeLeaseFile(file: string, snapshot: LeaseSnapshot): void {
  ensurePrivateDir(dirname(file));
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    fchmodSync(fd, 0o600); // a temporary left by a crash keeps its old mode otherwise
    writeSync(fd, JSON.stringify({ version, ...snapshot }, null, 1));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
}
