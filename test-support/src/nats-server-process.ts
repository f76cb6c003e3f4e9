/**
 * A nats-server of the test's own on a free 127.0.0.1 port, with JetStream in a temporary
 * directory and the given authorization block; stop() ends that process and removes the
 * directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort } from './loopback-proxy.ts';

export interface NatsServerProcess {
  port: number;
  /** Rewrites the authorization block and has the server reload it (SIGHUP); resolves once new users can connect. */
  reload(authorization: object): Promise<void>;
  stop(): Promise<void>;
}

export async function startNatsServer(authorization: object): Promise<NatsServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-nats-'));
  const port = await closedPort();
  const file = join(dir, 'nats-server.conf');
  // nats-server reads JSON as well as its own format.
  const write = (auth: object) =>
    writeFileSync(file, JSON.stringify({ listen: `127.0.0.1:${port}`, jetstream: { store_dir: join(dir, 'js') }, authorization: auth }, null, 2));
  write(authorization);
  const child: ChildProcess = spawn(process.env.SPROUT_TEST_NATS_SERVER ?? 'nats-server', ['-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nats-server did not start on 127.0.0.1:${port}: ${stderr.trim() || 'no output'}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const reload = async (auth: object) => {
    write(auth);
    const before = stderr.length;
    child.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    while (!/Reloaded server configuration/i.test(stderr.slice(before))) {
      if (Date.now() > deadline) throw new Error(`nats-server did not reload its configuration: ${stderr.slice(before).trim() || 'no output'}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { port, reload, stop };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
