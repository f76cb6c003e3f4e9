/** A real `sprout server` in a temporary folder, and the `sprout` binary run against it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const bin = fileURLToPath(new URL('../bin/sprout.js', import.meta.url));

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

export function sprout(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd, env: { ...cleanEnv(), ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
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
  env: Record<string, string>;
  log(): string;
  stop(): Promise<void>;
}

/** Starts `sprout server` in a fresh folder (its own sprout.yaml and data dir) and waits until it listens. */
export async function startServer(extraEnv: Record<string, string> = {}, yaml = ''): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-server-'));
  const port = await freePort();
  writeFileSync(join(dir, 'sprout.yaml'), `listen: 127.0.0.1:${port}\n${yaml}`);
  mkdirSync(join(dir, 'home'));
  const env = { XDG_CONFIG_HOME: join(dir, 'home'), ...extraEnv };
  const child: ChildProcess = spawn(process.execPath, [bin, 'server'], { cwd: dir, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.on('exit', resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 60_000);
      child.on('exit', (code) => (clearTimeout(timer), reject(new Error(`server exited with ${code}:\n${log}`))));
      const check = () => (log.includes('sprout server is listening') ? (clearTimeout(timer), resolve()) : setTimeout(check, 100));
      check();
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { dir, port, env, log: () => log, stop };
}
