/** A TFTP service on 127.0.0.1 and an ephemeral port, serving a temporary root that is removed afterwards. */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningAgentService } from '@sprout/kernel';
import { tftpService } from '../../../src/services/tftp/index.ts';

export interface TftpFixture {
  root: string;
  /** Scratch folder for client downloads, outside the served root. */
  scratch: string;
  port: number;
  service: RunningAgentService;
  logs: { level: string; o: object; m?: string }[];
  /** Stops the service and removes both folders. */
  close(): Promise<void>;
}

export async function startTftp(settings: Record<string, unknown> = {}): Promise<TftpFixture> {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'sprout-tftp-root-')));
  const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'sprout-tftp-scratch-')));
  const logs: TftpFixture['logs'] = [];
  const logger = {
    info: (o: object, m?: string) => logs.push({ level: 'info', o, m }),
    warn: (o: object, m?: string) => logs.push({ level: 'warn', o, m }),
    error: (o: object, m?: string) => logs.push({ level: 'error', o, m }),
  };
  let service: RunningAgentService;
  try {
    service = await tftpService({
      dataDir: scratch,
      settings: { port: 0, address: '127.0.0.1', root, ...settings },
      desiredState: () => ({}),
      onDesiredState: () => undefined,
      report: () => undefined,
      logger,
    });
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
    throw err;
  }
  return {
    root,
    scratch,
    port: service.health().port as number,
    service,
    logs,
    async close() {
      await service.stop();
      rmSync(root, { recursive: true, force: true });
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** Writes `size` random bytes to `path` and returns their sha256. */
export function writeRandomFile(path: string, size: number): string {
  const bytes = randomBytes(size);
  writeFileSync(path, bytes);
  return sha256(bytes);
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function sha256File(path: string): string {
  return sha256(readFileSync(path));
}

export interface ProcessRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a client binary, killed after `timeoutMs` so a hung transfer fails the test instead of hanging it. */
export function runClient(command: string, args: string[], timeoutMs = 60_000): Promise<ProcessRun> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Polls a condition the server reaches on its own (counters update after the last ACK); bounded. */
export async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
