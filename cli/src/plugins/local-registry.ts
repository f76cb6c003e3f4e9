/**
 * The local npm registry for plugin authors: Verdaccio on 127.0.0.1 with its config,
 * storage and log in one data folder (default `<dataDir>/registry`). Anyone on this
 * machine may publish without an account — it never listens beyond loopback — and it
 * has no uplinks, so nothing asked of it ever goes to the internet and `@sprout/*`
 * comes only from the Sprout installation. `registry.json` in the folder describes the
 * running registry so `status` and `stop` find it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { SproutError } from '@sprout/kernel';
import { alive } from '../process-alive.ts';

export interface RegistryInfo {
  pid: number;
  url: string;
  port: number;
  dir: string;
  startedAt: string;
  /** npm wants a token to publish even where none is checked: pass this (`npm publish --registry <url> --<npmAuth>`). */
  npmAuth: string;
}

const stateFile = (dir: string) => join(dir, 'registry.json');

export function verdaccioConfig(dir: string): string {
  return [
    '# Written by `sprout registry start`: the local registry for Sprout plugin authors.',
    `storage: ${JSON.stringify(join(dir, 'storage'))}`,
    `plugins: ${JSON.stringify(join(dir, 'verdaccio-plugins'))}`,
    'web: { enable: false }',
    'auth:',
    '  htpasswd:',
    `    file: ${JSON.stringify(join(dir, 'htpasswd'))}`,
    '# No uplinks: nothing is fetched from or proxied to a public registry.',
    'uplinks: {}',
    'packages:',
    "  '@sprout/*':",
    '    access: $all',
    '    publish: $all',
    '    unpublish: $all',
    "  '**':",
    '    access: $all',
    '    publish: $all',
    '    unpublish: $all',
    'server: { keepAliveTimeout: 60 }',
    'middlewares: { audit: { enabled: false } }',
    'publish: { allow_offline: true }',
    `log: { type: file, path: ${JSON.stringify(join(dir, 'verdaccio.log'))}, level: warn }`,
    '',
  ].join('\n');
}

/** The running registry in `dir`, or null; a state file left by a registry that died is removed. */
export function readRegistryState(dir: string): RegistryInfo | null {
  if (!existsSync(stateFile(dir))) return null;
  const info = JSON.parse(readFileSync(stateFile(dir), 'utf8')) as RegistryInfo;
  if (!alive(info.pid)) {
    rmSync(stateFile(dir), { force: true });
    return null;
  }
  return info;
}

export async function startRegistry(options: { dir: string; port: number; timeoutMs?: number }): Promise<RegistryInfo> {
  const { dir } = options;
  const running = readRegistryState(dir);
  if (running)
    throw new SproutError(
      'SPROUT_ERR_CONFLICT',
      `a registry is already running from ${dir} (pid ${running.pid}, ${running.url}); \`sprout registry stop\` stops it`,
    );
  mkdirSync(dir, { recursive: true });
  const port = options.port || (await freePort());
  if (await portTaken(port)) throw new SproutError('SPROUT_ERR_CONFLICT', `port ${port} on 127.0.0.1 is taken; choose another with --port (0: any free port)`);
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, verdaccioConfig(dir));
  const log = openSync(join(dir, 'registry.out'), 'a');
  const child = spawn(process.execPath, [await verdaccioBin(), '--config', configFile, '--listen', `127.0.0.1:${port}`], {
    detached: true,
    stdio: ['ignore', log, log],
    cwd: dir,
  });
  child.unref();
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || !alive(child.pid!))
      throw new SproutError('SPROUT_ERR_UNAVAILABLE', `the registry did not start; see ${join(dir, 'registry.out')}`);
    if (await answers(`${url}/-/ping`)) break;
    if (Date.now() > deadline) {
      process.kill(child.pid!, 'SIGTERM');
      throw new SproutError(
        'SPROUT_ERR_UNAVAILABLE',
        `the registry did not answer within ${(options.timeoutMs ?? 60_000) / 1000} s; see ${join(dir, 'registry.out')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const info: RegistryInfo = { pid: child.pid!, url, port, dir, startedAt: new Date().toISOString(), npmAuth: `//127.0.0.1:${port}/:_authToken=sprout-local` };
  writeFileSync(stateFile(dir), `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

/** Stops the registry running from `dir`; its packages stay in `dir/storage`. */
export async function stopRegistry(dir: string, timeoutMs = 30_000): Promise<RegistryInfo | null> {
  const info = readRegistryState(dir);
  if (!info) return null;
  process.kill(info.pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (alive(info.pid)) {
    if (Date.now() > deadline) throw new SproutError('SPROUT_ERR_UNAVAILABLE', `the registry (pid ${info.pid}) did not stop within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  rmSync(stateFile(dir), { force: true });
  return info;
}

/** Verdaccio's executable, from the optional `@sprout/registry` package. */
async function verdaccioBin(): Promise<string> {
  let registry: { verdaccioBin(): string };
  try {
    registry = await import('@sprout/registry');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' || !(err as Error).message.includes("'@sprout/registry'")) throw err;
    throw new SproutError(
      'SPROUT_ERR_UNAVAILABLE',
      'the local registry is an optional package: install it with `npm install @sprout/registry` in the Sprout folder, then run `sprout registry start` again',
    );
  }
  return registry.verdaccioBin();
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function portTaken(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(true));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
  });
}
