/** A real `sprout server` in a temporary folder, and the `sprout` binary run against it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const bin = fileURLToPath(new URL('../../cli/bin/sprout.js', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SPROUT_') && v !== undefined) env[k] = v;
  return env;
}

/** Runs `sprout …` to its end; `input`, when given, is written to its standard input. */
export function sprout(args: string[], options: { cwd: string; env?: Record<string, string>; input?: string }): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd, env: { ...cleanEnv(), ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (options.input !== undefined) child.stdin.end(options.input);
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  dir: string;
  port: number;
  pid: number;
  env: Record<string, string>;
  log(): string;
  /** Stops the server; `keep` leaves its folder (and database) for a restart. */
  stop(signal?: NodeJS.Signals, keep?: boolean): Promise<void>;
}

/** A `sprout …` process that runs until stopped (server, agent), with its output kept. */
export interface LongRunning {
  child: ChildProcess;
  log(): string;
  /** Waits until the output contains `text` (bounded). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM (or `signal`) and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function spawnSprout(args: string[], options: { cwd: string; env: Record<string, string> }): LongRunning {
  const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd, env: { ...cleanEnv(), ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    log: () => log,
    waitFor: (text, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const check = () => {
          if (typeof text === 'string' ? log.includes(text) : text.test(log)) return resolve();
          if (child.exitCode !== null || child.signalCode !== null)
            return reject(new Error(`sprout ${args[0]} exited (${child.exitCode ?? child.signalCode}) before printing ${text}:\n${log}`));
          if (Date.now() > deadline) return reject(new Error(`sprout ${args[0]} did not print ${text} in ${timeoutMs} ms:\n${log}`));
          setTimeout(check, 100);
        };
        check();
      }),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        await exited;
      }
    },
  };
}

/** Starts `sprout server` in a fresh folder (its own sprout.yaml and data dir) and waits until it listens. */
export async function startServer(extraEnv: Record<string, string> = {}, yaml = '', reuse?: { dir: string; port: number }): Promise<ServerProcess> {
  const dir = reuse?.dir ?? mkdtempSync(join(tmpdir(), 'sprout-server-'));
  const port = reuse?.port ?? (await freePort());
  if (!reuse) {
    writeFileSync(join(dir, 'sprout.yaml'), `listen: 127.0.0.1:${port}\n${yaml}`);
    mkdirSync(join(dir, 'home'));
  }
  const env = { XDG_CONFIG_HOME: join(dir, 'home'), ...extraEnv };
  const server = spawnSprout(['server'], { cwd: dir, env });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', keep = false) => {
    await server.stop(signal);
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await server.waitFor('sprout server is listening');
  } catch (err) {
    await stop();
    throw err;
  }
  return { dir, port, env, log: server.log, stop, pid: server.child.pid! };
}
