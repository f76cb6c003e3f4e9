/**
 * A control plane (one or more `sprout server` processes) on the fault test's own
 * PostgreSQL — and NATS, when given — with one site, its PXE network, a running site
 * agent and an API client; what the fault tests share. Everything stops at teardown.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { spawnSprout, startServer, type LongRunning, type ServerProcess } from '@sprout/test-support/processes.ts';

export interface FaultLab {
  servers: ServerProcess[];
  token: string;
  work: string;
  agent: LongRunning;
  api<T = any>(method: string, path: string, body?: unknown, server?: number): Promise<T>;
  /** SIGKILLs control plane `i` and starts it again on the same folder, port and database. */
  killAndRestart(i: number): Promise<void>;
  startAgent(): Promise<LongRunning>;
}

export function serverYaml(options: { nats?: string; extra?: string }): string {
  return [
    'agents: { heartbeatSeconds: 0.5 }',
    'lifecycle: { timeouts: { commissioning: 6 }, watchdogIntervalSeconds: 0.5 }',
    // Short leases, so work a killed process held is handed out again within the test.
    `plugins: { transport-http: { ackWaitMs: 4000 }, transport-nats: { ackWaitMs: 4000${options.nats ? `, url: '${options.nats}'` : ''} } }`,
    options.extra ?? '',
  ].join('\n');
}

export async function faultLab(
  t: ExecutionContext,
  databaseUrl: string,
  options: { servers?: number; nats?: string; subnet?: string } = {},
): Promise<FaultLab> {
  const env = { SPROUT_DATABASE_URL: databaseUrl };
  const yaml = serverYaml({ nats: options.nats });
  const servers: ServerProcess[] = [];
  const agents: LongRunning[] = [];
  const work = mkdtempSync(join(tmpdir(), 'sprout-fault-'));
  t.teardown(async () => {
    for (const agent of agents) await agent.stop('SIGTERM');
    for (const server of servers) await server.stop();
    rmSync(work, { recursive: true, force: true });
  });
  servers.push(await startServer(env, yaml));
  const token = readFileSync(join(servers[0]!.dir, '.sprout', 'admin-token'), 'utf8').trim();
  for (let i = 1; i < (options.servers ?? 1); i++) servers.push(await startServer(env, yaml));

  const api = async (method: string, path: string, body?: unknown, server = 0) => {
    const response = await fetch(`http://127.0.0.1:${servers[server]!.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const subnet = options.subnet ?? '198.18.60';
  const site = await api('POST', '/v1/sites', { name: 'lab' });
  await api('POST', '/v1/networks', {
    site: 'lab',
    name: 'prov',
    cidr: `${subnet}.0/24`,
    gateway: `${subnet}.1`,
    domain: 'lab.example',
    pxe: true,
    ranges: [{ kind: 'dynamic', start: `${subnet}.200`, end: `${subnet}.250` }],
  });

  const startAgent = async () => {
    const config = join(work, 'agent.yaml');
    writeFileSync(
      config,
      [
        `controlPlane: http://127.0.0.1:${servers[0]!.port}`,
        `joinToken: ${site.joinToken.token}`,
        `dataDir: ${join(work, 'agent')}`,
        'hostname: agent-fault',
        '',
      ].join('\n'),
    );
    const agent = spawnSprout(['agent', 'run', '--config', config], { cwd: work, env: {} });
    agents.push(agent);
    await agent.waitFor('sprout agent is running');
    return agent;
  };
  const agent = await startAgent();
  return {
    servers,
    token,
    work,
    agent,
    api,
    startAgent,
    async killAndRestart(i) {
      const old = servers[i]!;
      process.kill(old.pid, 'SIGKILL');
      await old.stop('SIGKILL', true); // reaps it, keeps its folder
      servers[i] = await startServer(old.env, '', { dir: old.dir, port: old.port });
    },
  };
}

/** Polls until every listed workflow is finished (bounded), then returns them. */
export async function settled(lab: FaultLab, ids: string[], timeoutMs = 60_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await Promise.all(ids.map((id) => lab.api('GET', `/v1/workflows/${id}`)));
    if (all.every((wf) => ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(wf.state)) || Date.now() > deadline) return all;
    await new Promise((r) => setTimeout(r, 300));
  }
}
