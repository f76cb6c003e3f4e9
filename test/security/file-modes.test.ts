/**
 * The control plane's state is its user's alone: the data folder, the PGlite folder and
 * every file PGlite writes, the lock and the admin token. A folder with wider modes is
 * tightened and logged; a folder that belongs to another user is refused.
 */
import test from 'ava';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnSprout } from '@sprout/test-support/processes.ts';
import { openToOthers } from '@sprout/test-support/file-modes.ts';

async function serverFolder(t: any): Promise<{ dir: string; dataDir: string; env: Record<string, string> }> {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-modes-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'sprout.yaml'), `listen: 127.0.0.1:${await freePort()}\n`);
  mkdirSync(join(dir, 'home'));
  return { dir, dataDir: join(dir, '.sprout'), env: { XDG_CONFIG_HOME: join(dir, 'home') } };
}

test.serial('pglite: an existing data folder of 0755 is tightened with a log line; no file or folder of the store is open to others', async (t) => {
  const { dir, dataDir, env } = await serverFolder(t);
  mkdirSync(join(dataDir, 'pglite'), { recursive: true, mode: 0o755 });
  chmodSync(dataDir, 0o755);
  chmodSync(join(dataDir, 'pglite'), 0o755);
  const server = spawnSprout(['server'], { cwd: dir, env });
  t.teardown(() => server.stop('SIGKILL'));
  await server.waitFor('sprout server is listening');
  t.regex(server.log(), new RegExp(`tightened ${dataDir} from 0755 to 0700`));
  t.regex(server.log(), new RegExp(`tightened ${join(dataDir, 'pglite')} from 0755 to 0700`));
  t.is(statSync(join(dataDir, 'admin-token')).mode & 0o777, 0o600);
  t.is(statSync(join(dataDir, 'pglite.lock')).mode & 0o777, 0o600);
  const running = openToOthers(dataDir);
  t.deepEqual(running, [], `${running.length} entries open to others while running`);
  await server.stop('SIGTERM');
  const stopped = openToOthers(dataDir);
  t.deepEqual(stopped, [], `${stopped.length} entries open to others after stopping`);
});

test.serial('a data folder that belongs to another user is refused with a clear message, and left as it was', async (t) => {
  const { dir, dataDir, env } = await serverFolder(t);
  mkdirSync(dataDir, { mode: 0o755 });
  chmodSync(dataDir, 0o755);
  chownSync(dataDir, 65534, 65534); // nobody
  const server = spawnSprout(['server'], { cwd: dir, env });
  t.teardown(() => server.stop('SIGKILL'));
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  const outcome = await Promise.race([
    exited.then(() => 'exited'),
    server.waitFor('sprout server is listening').then(
      () => 'listening',
      () => 'exited',
    ),
  ]);
  t.is(outcome, 'exited', server.log());
  await exited;
  t.not(server.child.exitCode, 0);
  t.regex(server.log(), new RegExp(`${dataDir} belongs to user id 65534, not to the user running Sprout`));
  t.notRegex(server.log(), /\n\s+at /, 'no stack trace');
  const stat = statSync(dataDir);
  t.is(stat.mode & 0o777, 0o755);
  t.is(stat.uid, 65534);
});
