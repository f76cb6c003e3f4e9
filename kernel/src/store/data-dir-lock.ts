/**
 * An exclusive lock on a data directory. Two processes opening one PGlite directory
 * silently lose writes, so the second one must fail loudly, naming the holder. The lock
 * is a file created with O_EXCL holding the owner's pid; a lock whose process is gone
 * is stale and taken over.
 */
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { SproutError } from '../errors/index.ts';

export interface DataDirLock {
  path: string;
  release(): void;
}

/** Locks this process holds, so a second open inside the same process is refused too. */
const held = new Set<string>();

export function lockDataDir(dir: string, purpose: string): DataDirLock {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${purpose}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      held.add(path);
      let released = false;
      return {
        path,
        release() {
          if (released) return;
          released = true;
          held.delete(path);
          if (holder(path) === process.pid) rmSync(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = holder(path);
      const ours = pid === process.pid && held.has(path);
      if (pid !== null && (ours || (pid !== process.pid && alive(pid)))) {
        throw new SproutError('SPROUT_ERR_DATA_DIR_LOCKED', `${dir} is in use by process ${pid} (lock file ${path}); stop it first, or point this process at another data directory or at PostgreSQL`, {
          context: { dir, pid, lockFile: path },
        });
      }
      // Stale: move it aside atomically so two takers cannot both remove a fresh lock.
      try {
        renameSync(path, `${path}.stale-${process.pid}`);
        rmSync(`${path}.stale-${process.pid}`, { force: true });
      } catch {
        /* another process took it over first; the next attempt reports it */
      }
    }
  }
  throw new SproutError('SPROUT_ERR_DATA_DIR_LOCKED', `could not lock ${dir} (lock file ${path})`, { context: { dir, lockFile: path } });
}

function holder(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
