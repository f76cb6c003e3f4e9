/**
 * Folders and files that hold state or secrets are the running user's alone: folders
 * 0700, files 0600. A folder that exists with wider modes is tightened (and the caller
 * logs it); one that belongs to another user is refused, since tightening it would take
 * it from its owner and using it would hand our state to them.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SproutError } from '../errors/index.ts';

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/** Creates `dir` (and missing parents) 0700, or tightens an existing one of ours; refuses one owned by another user. */
export function ensurePrivateDir(dir: string, log?: (message: string) => void): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = statSync(dir);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new SproutError(
      'SPROUT_ERR_CONFIG',
      `${dir} belongs to user id ${stat.uid}, not to the user running Sprout (${uid}); Sprout keeps its state only in folders of its own: chown it to this user or choose another folder`,
      {
        context: { dir, owner: stat.uid, user: uid },
      },
    );
  }
  if ((stat.mode & 0o077) !== 0) {
    chmodSync(dir, 0o700);
    log?.(`tightened ${dir} from ${octal(stat.mode)} to 0700: it holds state only this user may read`);
  }
}

/** Writes a file readable by its owner only, whatever the umask and whatever mode an earlier copy had. */
export function writePrivateFile(path: string, data: string | Uint8Array): void {
  writeFileSync(path, data, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * Takes group and other bits off everything under `dir` (folders 0700, files 0600 at most).
 * For trees written by code we do not control (PGlite's WebAssembly file system creates
 * its files 0666). Bounded by the tree; symbolic links are left alone. Returns how many it changed.
 */
export function tightenTree(dir: string): number {
  let changed = 0;
  const visit = (path: string) => {
    let stat;
    try {
      stat = lstatSync(path);
    } catch {
      return; // removed while we walk (PGlite recycles WAL segments)
    }
    if (stat.isSymbolicLink()) return;
    if ((stat.mode & 0o077) !== 0) {
      try {
        chmodSync(path, stat.mode & 0o700);
        changed++;
      } catch {
        return;
      }
    }
    if (!stat.isDirectory()) return;
    let names: string[] = [];
    try {
      names = readdirSync(path);
    } catch {
      return;
    }
    for (const name of names) visit(join(path, name));
  };
  visit(dir);
  return changed;
}
