/**
 * An exclusive lock on a data directory. Two processes opening one PGlite directory
 * silently lose writes, so the second one must fail loudly, naming the holder.
 *
 * The lock is a listening Unix socket in Linux's abstract namespace, named after the
 * directory's real path: the kernel frees it the moment its process exits, even while
 * the dead process is an unreaped zombie, so a supervisor can restart at once after a
 * SIGKILL; a second `listen` fails with EADDRINUSE while the holder lives. (A pid file
 * cannot tell a zombie from a live holder: kill(pid, 0) succeeds on both.) The lock
 * file beside it only records the holder's pid and host for the error message.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { readFileSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SproutError } from '../errors/index.ts';
import { ensurePrivateDir, writePrivateFile } from './private-dir.ts';

export interface DataDirLock {
  path: string;
  release(): Promise<void>;
}

/** Locks this process holds, so a second open inside the same process is refused too. */
const held = new Set<string>();

/** The abstract socket name for `dir`: the same real path gives the same name in every process. */
export function lockSocketName(dir: string, purpose: string): string {
  const digest = createHash('sha256')
    .update(`${realpathSync(dir)}\0${purpose}`)
    .digest('hex');
  return `\0sprout-lock-${digest}`;
}

export async function lockDataDir(dir: string, purpose: string, log?: (message: string) => void): Promise<DataDirLock> {
  ensurePrivateDir(dir, log);
  const path = join(dir, `${purpose}.lock`);
  const refuse = (holderText: string) =>
    new SproutError(
      'SPROUT_ERR_DATA_DIR_LOCKED',
      `${dir} is in use by ${holderText} (lock file ${path}); stop it first, or point this process at another data directory or at PostgreSQL`,
      {
        context: { dir, lockFile: path, ...holder(path) },
      },
    );
  const name = lockSocketName(dir, purpose);
  if (held.has(name)) throw refuse(`this process (${process.pid})`);
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: name }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    const h = holder(path);
    throw refuse(h.pid ? `process ${h.pid}${h.host && h.host !== hostname() ? ` on ${h.host}` : ''}` : 'another process');
  }
  // Nobody ever connects: the socket only exists to be held. It must not keep the event loop alive.
  server.unref();
  server.on('connection', (socket) => socket.destroy());
  held.add(name);
  writePrivateFile(path, `${process.pid}\n${hostname()}\n`);
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      if (holder(path).pid === process.pid) rmSync(path, { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
      held.delete(name);
    },
  };
}

function holder(path: string): { pid?: number; host?: string } {
  try {
    const [pidText, host] = readFileSync(path, 'utf8').split('\n');
    const pid = Number.parseInt(pidText!, 10);
    return Number.isInteger(pid) && pid > 0 ? { pid, ...(host ? { host } : {}) } : {};
  } catch {
    return {};
  }
}
