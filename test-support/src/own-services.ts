/**
 * A PostgreSQL or NATS server of a test's own, in a temporary folder on a free port, for
 * fault tests that stop, kill or restart them: the machine's shared servers are never
 * touched. Each is started and stopped by its own PID and removes its folder at the end.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './processes.ts';

/** The newest PostgreSQL installed the Debian way (/usr/lib/postgresql/<version>/bin). */
function postgresBin(): string {
  const versions = readdirSync('/usr/lib/postgresql')
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error('no PostgreSQL under /usr/lib/postgresql');
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}

export interface OwnServer {
  port: number;
  url: string;
  dir: string;
  pid(): number | undefined;
  /** Stops the server (SIGINT: fast shutdown for PostgreSQL, graceful for NATS; or `signal`) and waits for its exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same folder and port. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
  log(): string;
}

function owned(dir: string, uid: number | undefined, gid: number | undefined) {
  if (uid !== undefined && gid !== undefined) chownSync(dir, uid, gid);
}

/** PostgreSQL refuses to run as root; when the tests are root it runs as the `postgres` user. */
function postgresUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0) throw new Error('tests run as root, and there is no postgres user to run PostgreSQL as');
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen in ${timeoutMs} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Servers still running when the test process exits (a timed-out worker): stopped with it, never left behind. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function server(name: string, dir: string, port: number, url: string, launch: () => ChildProcess, ready: (log: string) => boolean): OwnServer {
  let child: ChildProcess | undefined;
  let output = '';
  const exited = () => !child || child.exitCode !== null || child.signalCode !== null;
  const self: OwnServer = {
    port,
    url,
    dir,
    pid: () => (exited() ? undefined : child!.pid),
    log: () => output,
    async start() {
      if (!exited()) return;
      output += `--- start ${new Date().toISOString()}\n`;
      const mark = output.length;
      child = launch();
      const started = child;
      running.add(started);
      started.once('exit', () => running.delete(started));
      child.stdout?.on('data', (d) => (output += d));
      child.stderr?.on('data', (d) => (output += d));
      await until(
        `${name} ready on port ${port}`,
        () => {
          if (exited()) throw new Error(`${name} exited (${child!.exitCode ?? child!.signalCode}):\n${output}`);
          return ready(output.slice(mark));
        },
        30_000,
        () => output,
      );
    },
    async stop(signal = 'SIGINT') {
      if (exited()) return;
      const gone = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      child!.kill(signal);
      const timer = setTimeout(() => child?.kill('SIGKILL'), 20_000);
      await gone;
      clearTimeout(timer);
    },
    async destroy() {
      await self.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}

/** A fresh PostgreSQL cluster (trust auth, database `postgres`), started; its folder under `parent` (default: the temporary folder). */
export async function ownPostgres(options: { parent?: string } = {}): Promise<OwnServer> {
  const pgBin = postgresBin();
  const dir = mkdtempSync(join(options.parent ?? tmpdir(), 'sprout-own-pg-'));
  const { uid, gid } = postgresUser();
  owned(dir, uid, gid);
  const data = join(dir, 'data');
  const init = spawnSync(`${pgBin}/initdb`, ['-A', 'trust', '-U', 'postgres', '-D', data, '--no-sync'], { uid, gid, encoding: 'utf8' });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr}`);
  }
  const port = await freePort();
  const pg = server(
    'PostgreSQL',
    dir,
    port,
    `postgres://postgres@127.0.0.1:${port}/postgres`,
    () =>
      spawn(
        `${pgBin}/postgres`,
        ['-D', data, '-k', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=100'],
        { uid, gid, stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    (log) => log.includes('database system is ready to accept connections'),
  );
  try {
    await pg.start();
  } catch (err) {
    await pg.destroy();
    throw err;
  }
  return pg;
}

/** A NATS server with JetStream, started. */
export async function ownNats(): Promise<OwnServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-own-nats-'));
  const port = await freePort();
  const nats = server(
    'NATS',
    dir,
    port,
    `nats://127.0.0.1:${port}`,
    () => spawn('nats-server', ['-js', '-sd', dir, '-p', String(port), '-a', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] }),
    (log) => log.includes('Server is ready'),
  );
  try {
    await nats.start();
  } catch (err) {
    await nats.destroy();
    throw err;
  }
  return nats;
}
