/**
 * A network namespace for tests that put real machines (QEMU) on a wire: a bridge with
 * the agent's address and a tap for the VM, addresses from 198.18.0.0/15 only. Host
 * loopback services are reachable inside through unix-socket forwarders. Everything
 * (processes, namespace, sockets) is removed at teardown, also after a failure.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { forward } from './socket-forwarder.ts';

const run = promisify(execFile);
const forwarderScript = fileURLToPath(new URL('./socket-forwarder.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** A process that runs until stopped, with its output kept. */
export interface Spawned {
  child: ChildProcess;
  log(): string;
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function spawnLogged(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Spawned {
  const child = spawn(command, args, { cwd: options.cwd ?? repoRoot, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    log: () => log,
    exited,
    waitFor: (text, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const check = () => {
          if (typeof text === 'string' ? log.includes(text) : text.test(log)) return resolve();
          if (!running())
            return reject(
              new Error(
                `${command} ${args.slice(0, 4).join(' ')} exited (${child.exitCode ?? child.signalCode}) before printing ${text}:\n${log.slice(-4000)}`,
              ),
            );
          if (Date.now() > deadline)
            return reject(new Error(`${command} ${args.slice(0, 4).join(' ')} did not print ${text} in ${timeoutMs} ms:\n${log.slice(-4000)}`));
          setTimeout(check, 100);
        };
        check();
      }),
    stop: async (signal = 'SIGTERM') => {
      if (!running()) return;
      child.kill(signal);
      const killed = await Promise.race([exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 10_000))]);
      if (!killed && running()) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

export interface Netns {
  name: string;
  /** The bridge's (the agent's) address, e.g. 198.18.90.1 */
  address: string;
  /** The tap a VM attaches to (already on the bridge, up). */
  tap: string;
  /** Runs `command` inside the namespace; stopped at teardown. */
  spawn(command: string, args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }): Spawned;
  /** Makes 127.0.0.1:`port` inside the namespace reach 127.0.0.1:`hostPort` (default the same) on the host. */
  forwardToHost(port: number, hostPort?: number): Promise<void>;
}

/** A namespace with lo, a bridge `br0` at `<subnet>.1/24` and a tap `tap0` on it. */
export async function createNetns(t: ExecutionContext, subnet: string): Promise<Netns> {
  const name = `sprout-e2e-${randomBytes(4).toString('hex')}`;
  const sockets = mkdtempSync(join(tmpdir(), 'sprout-netns-'));
  const processes: Spawned[] = [];
  const servers: Server[] = [];
  const ip = (...args: string[]) => run('ip', ['-n', name, ...args]);
  t.teardown(async () => {
    for (const p of processes.reverse()) await p.stop('SIGTERM');
    await run('ip', ['netns', 'del', name]).catch(() => undefined);
    for (const s of servers) await new Promise((r) => s.close(r));
    rmSync(sockets, { recursive: true, force: true });
  });
  await run('ip', ['netns', 'add', name]);
  await ip('link', 'set', 'lo', 'up');
  await ip('link', 'add', 'br0', 'type', 'bridge');
  // Forward at once: a new bridge port otherwise waits in STP listening/learning.
  await ip('link', 'set', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
  await ip('addr', 'add', `${subnet}.1/24`, 'dev', 'br0');
  await ip('tuntap', 'add', 'dev', 'tap0', 'mode', 'tap');
  await ip('link', 'set', 'tap0', 'master', 'br0');
  await ip('link', 'set', 'tap0', 'up');
  await ip('link', 'set', 'br0', 'up');
  const ns: Netns = {
    name,
    address: `${subnet}.1`,
    tap: 'tap0',
    spawn(command, args, options) {
      const p = spawnLogged('ip', ['netns', 'exec', name, command, ...args], options);
      processes.push(p);
      return p;
    },
    async forwardToHost(port, hostPort = port) {
      const path = join(sockets, `${port}.sock`);
      servers.push(await forward({ path }, { host: '127.0.0.1', port: hostPort }));
      const inside = ns.spawn(process.execPath, ['--import', 'tsx', forwarderScript, `tcp:127.0.0.1:${port}`, `unix:${path}`]);
      await inside.waitFor('forwarding', 30_000);
    },
  };
  return ns;
}
