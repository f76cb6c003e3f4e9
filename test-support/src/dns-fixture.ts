/**
 * What the DNS service tests share: a fake agent context around a desired state, a
 * server on a free loopback port, and `dig` with its output parsed into sections.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AgentServiceContext, RunningAgentService, SiteDesiredState } from '@sprout/kernel';
import { isSproutError } from '@sprout/kernel';
import dnsPlugin, { recordsForAddress } from '@sprout/plugin-dns-builtin';

const run = promisify(execFile);
export const siteId = '6f1c1f7e-0000-4000-8000-000000000001';

export function labState(machines: [hostname: string, address: string][]): SiteDesiredState {
  return {
    site: { id: siteId, name: 'lab' },
    networks: [
      {
        id: 'n1',
        name: 'lab',
        cidr: '198.18.40.0/24',
        gateway: '198.18.40.1',
        dnsServers: ['198.18.40.2'],
        domain: 'lab.example',
        vlan: null,
        pxe: true,
        ranges: [],
      },
    ],
    dnsRecords: machines.flatMap(([hostname, address]) => recordsForAddress({ siteId, hostname, domain: 'lab.example', address })),
  };
}

export interface RunningDns {
  port: number;
  dataDir: string;
  service: RunningAgentService;
  /** Replaces the desired state and fires the service's listener, as the agent does. */
  publish(state: SiteDesiredState): void;
  errors: object[];
  /** Lines logged at info and debug, as `[level, msg, fields]`. */
  lines: ['info' | 'debug', string, object][];
  /** Stops the server; with `keepData` the data directory stays for a restart. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export async function startDns(state: SiteDesiredState, options: { settings?: Record<string, unknown>; dataDir?: string } = {}): Promise<RunningDns> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'sprout-dns-')));
  let current = state;
  const listeners: ((s: SiteDesiredState) => void)[] = [];
  const errors: object[] = [];
  const lines: RunningDns['lines'] = [];
  const ctx = (port: number): AgentServiceContext => ({
    dataDir,
    settings: { address: '127.0.0.1', port, ...options.settings },
    desiredState: () => current,
    onDesiredState: (listener) => listeners.push(listener),
    report: () => undefined,
    logger: {
      info: (o, m) => void lines.push(['info', m ?? '', o]),
      debug: (o, m) => void lines.push(['debug', m ?? '', o]),
      warn: () => undefined,
      error: (o) => errors.push(o),
    },
  });
  // A random high port; another test process may hold one, so a few are tried.
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    try {
      const dnsService = (await dnsPlugin.agent!()).services!.dns!;
      const service = await dnsService(ctx(port));
      return {
        port,
        dataDir,
        service,
        errors,
        lines,
        publish(next) {
          current = next;
          for (const listener of listeners) listener(next);
        },
        async stop({ keepData = false } = {}) {
          await service.stop();
          if (!keepData) await rm(dataDir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      if (attempt < 10 && isSproutError(err) && err.context.code === 'EADDRINUSE') continue;
      await rm(dataDir, { recursive: true, force: true });
      throw err;
    }
  }
}

export interface DigResult {
  status: string;
  flags: string[];
  answer: string[][];
  authority: string[][];
  additional: string[][];
  /** `;; SERVER: …` line, which says `(TCP)` or `(UDP)`. */
  server: string;
  raw: string;
}

export async function digShort(port: number, ...args: string[]): Promise<string[]> {
  const { stdout } = await run('dig', [`@127.0.0.1`, '-p', String(port), '+time=2', '+tries=1', '+short', ...args]);
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

export async function dig(port: number, ...args: string[]): Promise<DigResult> {
  const { stdout } = await run('dig', [`@127.0.0.1`, '-p', String(port), '+time=2', '+tries=1', '+nocookie', ...args]);
  const header = /status: (\w+)/.exec(stdout);
  const flags = /;; flags: ([a-z ]*);/.exec(stdout);
  const section = (title: string) => {
    const match = new RegExp(`;; ${title} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(stdout);
    return match
      ? match[1]
          .split('\n')
          .filter((l) => l && !l.startsWith(';'))
          .map((l) => l.split(/\s+/))
      : [];
  };
  return {
    status: header?.[1] ?? 'none',
    flags: flags ? flags[1].trim().split(' ') : [],
    answer: section('ANSWER'),
    authority: section('AUTHORITY'),
    additional: section('ADDITIONAL'),
    server: /;; SERVER: (.*)/.exec(stdout)?.[1] ?? '',
    raw: stdout,
  };
}

/** The SOA serial as `dig +short SOA` prints it (third field). */
export async function soaSerial(port: number, zone: string): Promise<number> {
  const [soa] = await digShort(port, zone, 'SOA');
  return Number(soa.split(' ')[2]);
}
