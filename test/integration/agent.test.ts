/**
 * The site agent as real processes against a real control plane, over each transport:
 * joining, staying visible, delegated work end to end, redelivery after SIGKILL,
 * reports that outlive a control-plane outage, and the refusals an agent meets.
 */
import test from 'ava';
import { chmodSync, existsSync, readFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, spawnSprout, sprout, type LongRunning, type ServerProcess } from '@sprout/test-support/processes.ts';
import { until } from '@sprout/test-support/until.ts';
import { openToOthers } from '@sprout/test-support/file-modes.ts';

const slowAgentPlugins = fileURLToPath(new URL('../../kernel/test/fixtures/plugin-dirs/slow-agent', import.meta.url));
const natsUrl = process.env.SPROUT_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

const transports = [
  { name: 'http', env: {} as Record<string, string>, yaml: 'plugins:\n  transport-http: { ackWaitMs: 2000, waitSeconds: 2 }\n' },
  { name: 'nats', env: { SPROUT_NATS_URL: natsUrl } as Record<string, string>, yaml: '' },
];

interface World {
  server: ServerProcess;
  run(...args: string[]): ReturnType<typeof sprout>;
  agent(options?: { pluginDir?: string; env?: Record<string, string>; joinToken?: string }): LongRunning;
  agentDir: string;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

async function world(t: any, transport: (typeof transports)[number]): Promise<World> {
  const prefix = `t${Math.random().toString(36).slice(2, 8)}`;
  const yaml = `agents: { heartbeatSeconds: 0.5, offlineAfterMissed: 2 }\n${transport.yaml}${transport.name === 'nats' ? `plugins:\n  transport-nats: { prefix: ${prefix}, ackWaitMs: 2000, maxDeliver: 5 }\n` : ''}`;
  const server = await startServer(transport.env, yaml);
  const agentDir = mkdtempSync(join(tmpdir(), 'sprout-agent-'));
  const agents: LongRunning[] = [];
  t.teardown(async () => {
    for (const a of agents) await a.stop('SIGKILL');
    await w.server.stop();
    rmSync(agentDir, { recursive: true, force: true });
  });
  const token = readFileSync(join(server.dir, '.sprout', 'admin-token'), 'utf8').trim();
  const w: World = {
    server,
    agentDir,
    run: (...args) => sprout(args, { cwd: server.dir, env: server.env }),
    agent: (options = {}) => {
      const args = ['agent', 'run', '--control-plane', `http://127.0.0.1:${server.port}`, '--data-dir', agentDir, '--hostname', 'agent-1'];
      if (options.joinToken) args.push('--join-token', options.joinToken);
      if (options.pluginDir) args.push('--plugin-dir', options.pluginDir);
      const a = spawnSprout(args, { cwd: server.dir, env: { ...server.env, ...options.env } });
      agents.push(a);
      return a;
    },
    api: async (method, path, body) => {
      const res = await fetch(`http://127.0.0.1:${w.server.port}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
  };
  return w;
}

for (const transport of transports) {
  test.serial(`${transport.name}: an agent joins, shows online, goes offline when stopped; sync-site runs end to end`, async (t) => {
    const w = await world(t, transport);
    const site = JSON.parse((await w.run('site', 'create', 'lab', '--json')).stdout);
    chmodSync(w.agentDir, 0o755); // an existing folder with wider modes is tightened, and the agent says so
    const agent = w.agent({ joinToken: site.joinToken.token });
    await agent.waitFor('sprout agent is running');
    t.is(statSync(join(w.agentDir, 'agent.json')).mode & 0o777, 0o600);
    t.is(statSync(w.agentDir).mode & 0o777, 0o700);
    t.regex(agent.log(), /tightened .* from 0755 to 0700/);
    const online = await until('online', async () => {
      const out = (await w.run('site', 'show', 'lab')).stdout;
      return /agent-1\s+online/.test(out) && out;
    });
    t.regex(online, /agent-1\s+online\s+\S+\s+0\.1\.0/);

    // A new network reaches the agent by itself: no work item, no sync.
    await w.run('network', 'create', '--site', 'lab', '--name', 'prov', '--cidr', '198.18.20.0/24', '--gateway', '198.18.20.1', '--pxe');
    const held = await until('the agent serves the new network', async () => {
      if (!existsSync(join(w.agentDir, 'desired-state.json'))) return false;
      const onDisk = JSON.parse(readFileSync(join(w.agentDir, 'desired-state.json'), 'utf8'));
      return onDisk.document?.networks?.[0]?.name === 'prov' && onDisk.document;
    });
    const shown = await until('site show says the agent is current', async () => {
      const site = JSON.parse((await w.run('site', 'show', 'lab', '--json')).stdout);
      return site.agents[0].desiredState.behind === 0 && site;
    });
    t.is(shown.agents[0].desiredState.revision, held.revision);
    t.is(shown.desiredRevision, held.revision);
    // `site sync` stays, as a manual push: the agent fetches at once and says what it serves.
    const synced = await w.run('site', 'sync', 'lab', '--watch');
    t.is(synced.code, 0, synced.stdout + synced.stderr);
    t.regex(synced.stdout, /sync-site succeeded/);
    const wf = JSON.parse((await w.run('workflow', 'list', '--kind', 'sync-site', '--json')).stdout).items[0];
    t.true(wf.steps[0].result.revision > held.revision);

    // the agent takes the machine's site steps: check-bmc, then power-on (manual driver: it asks a person and waits for the machine)
    await w.run('machine', 'create', 'node-1', '--site', 'lab', '--mac', '52:54:00:00:20:01');
    const commission = JSON.parse((await w.run('machine', 'commission', 'node-1', '--no-hwtest', '--json')).stdout);
    const waiting = await until('the power-on step waits for someone to power the machine on', async () => {
      const current = (await w.api('GET', `/v1/workflows/${commission.id}`)).body;
      const step = current.steps.find((s: any) => s.name === 'power-on');
      return step.state === 'running' && step.logTail.some((l: string) => l.includes('waiting for someone')) && current;
    });
    t.like(waiting.steps[0], { name: 'check-bmc', state: 'succeeded', result: { driver: 'manual', state: 'unknown' } });
    t.regex(waiting.steps.find((s: any) => s.name === 'power-on').logTail.at(-1), /^waiting for someone to power on node-1 \(manual power driver\)$/);
    // state and secrets are the running user's alone: the agent's identity, desired state,
    // report journal and power waits, and the control plane's PGlite folder and admin token
    await until(
      'the power wait is on disk',
      async () => existsSync(join(w.agentDir, 'power-waits.json')) && readFileSync(join(w.agentDir, 'power-waits.json'), 'utf8').includes('node-1'),
    );
    t.true(existsSync(join(w.agentDir, 'desired-state.json')));
    t.deepEqual(openToOthers(w.agentDir), []);
    t.deepEqual(openToOthers(join(w.server.dir, '.sprout')), []);

    await agent.stop('SIGTERM');
    await until('offline', async () => /agent-1\s+offline/.test((await w.run('site', 'show', 'lab')).stdout));
    // a restart reuses the stored identity: no token needed, still one agent
    const again = w.agent();
    await again.waitFor('reusing the agent identity');
    await until('online again', async () => /agent-1\s+online/.test((await w.run('site', 'show', 'lab')).stdout));
    t.is(JSON.parse((await w.run('site', 'show', 'lab', '--json')).stdout).agents.length, 1);
  });

  test.serial(
    `${transport.name}: work published while the agent is down is delivered when it starts; SIGKILL mid-task redelivers and the workflow completes once`,
    async (t) => {
      const w = await world(t, transport);
      const marker = join(w.agentDir, '..', `marker-${Math.random().toString(36).slice(2)}`);
      t.teardown(() => rmSync(marker, { force: true }));
      const site = JSON.parse((await w.run('site', 'create', 'lab', '--json')).stdout);
      const env = { SLOW_SYNC_MARKER: marker, SLOW_SYNC_MS: '4000' };
      const first = w.agent({ joinToken: site.joinToken.token, pluginDir: slowAgentPlugins, env });
      await first.waitFor('sprout agent is running');
      await first.stop('SIGTERM');

      const wf = (await w.api('POST', '/v1/sites/lab/sync')).body;
      await new Promise((r) => setTimeout(r, 1000));
      t.is((await w.api('GET', `/v1/workflows/${wf.id}`)).body.state, 'dispatched', 'waits while no agent runs');

      const second = w.agent({ pluginDir: slowAgentPlugins, env });
      await until('task started', async () => existsSync(marker) && readFileSync(marker, 'utf8').includes('started'));
      await second.stop('SIGKILL');
      t.false(readFileSync(marker, 'utf8').includes('finished'), 'killed before finishing');

      const third = w.agent({ pluginDir: slowAgentPlugins, env });
      await third.waitFor('sprout agent is running');
      const done = await until(
        'workflow succeeded',
        async () => {
          const current = (await w.api('GET', `/v1/workflows/${wf.id}`)).body;
          return ['succeeded', 'failed'].includes(current.state) && current;
        },
        60_000,
      );
      t.is(done.state, 'succeeded', JSON.stringify(done));
      const lines = readFileSync(marker, 'utf8').trim().split('\n');
      t.is(lines.filter((l) => l.endsWith('started')).length, 2, 'redelivered once after the kill');
      t.is(lines.filter((l) => l.endsWith('finished')).length, 1, 'completed once');
      t.deepEqual(done.steps[0].result, { slow: true });
    },
  );

  test.serial(`${transport.name}: reports made while the control plane is down arrive after it restarts and are applied once`, async (t) => {
    const w = await world(t, transport);
    const marker = join(w.agentDir, '..', `marker-${Math.random().toString(36).slice(2)}`);
    t.teardown(() => rmSync(marker, { force: true }));
    const site = JSON.parse((await w.run('site', 'create', 'lab', '--json')).stdout);
    const agent = w.agent({ joinToken: site.joinToken.token, pluginDir: slowAgentPlugins, env: { SLOW_SYNC_MARKER: marker, SLOW_SYNC_MS: '3000' } });
    await agent.waitFor('sprout agent is running');
    const wf = (await w.api('POST', '/v1/sites/lab/sync')).body;
    await until('task started', async () => existsSync(marker) && readFileSync(marker, 'utf8').includes('started'));
    await w.server.stop('SIGKILL', true);
    await until('task finished while the control plane is down', async () => readFileSync(marker, 'utf8').includes('finished'));
    await new Promise((r) => setTimeout(r, 1500));
    w.server = await startServer(transport.env, '', { dir: w.server.dir, port: w.server.port });
    const done = await until(
      'workflow succeeded after restart',
      async () => {
        const current = (await w.api('GET', `/v1/workflows/${wf.id}`)).body;
        return current.state === 'succeeded' && current;
      },
      60_000,
    );
    t.deepEqual(done.steps[0].result, { slow: true });
    t.is(
      readFileSync(marker, 'utf8')
        .trim()
        .split('\n')
        .filter((l) => l.endsWith('finished')).length,
      1,
    );
  });
}

test.serial("refusals: a used join token, a wrong credential and another site's work are refused and audited", async (t) => {
  const w = await world(t, transports[0]);
  const a = JSON.parse((await w.run('site', 'create', 'site-a', '--json')).stdout);
  const b = JSON.parse((await w.run('site', 'create', 'site-b', '--json')).stdout);
  const register = (joinToken: string) =>
    fetch(`http://127.0.0.1:${w.server.port}/v1/agents/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ joinToken, hostname: 'x', version: '1', capabilities: [] }),
    });
  const agentA = await (await register(a.joinToken.token)).json();
  const agentB = await (await register(b.joinToken.token)).json();
  t.truthy(agentA.credential);

  const reused = await register(a.joinToken.token);
  t.is(reused.status, 401);
  t.regex((await reused.json()).detail, /join token already used/);
  const bogus = await register('sprout_join_nope');
  t.is(bogus.status, 401);

  const asA = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${w.server.port}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${agentA.credential}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    });
  const wrong = await fetch(`http://127.0.0.1:${w.server.port}/v1/agents/${agentA.agentId}/work?wait=0`, {
    headers: { authorization: 'Bearer sprout_agent_wrong' },
  });
  t.is(wrong.status, 401);
  const foreign = await asA(`/v1/agents/${agentB.agentId}/work?wait=0`);
  t.is(foreign.status, 403);
  t.is((await foreign.json()).code, 'SPROUT_ERR_FORBIDDEN');
  const forged = await asA(`/v1/agents/${agentA.agentId}/reports`, {
    method: 'POST',
    body: JSON.stringify({
      reports: [{ agentId: agentB.agentId, siteId: agentB.siteId, sequence: 1, kind: 'event', at: new Date().toISOString(), payload: {} }],
    }),
  });
  t.is(forged.status, 403);
  const operatorRoute = await asA('/v1/machines');
  t.is(operatorRoute.status, 403, 'an agent credential is not an operator token');

  const denied = (await w.api('GET', '/v1/audit?outcome=denied&limit=50')).body.items;
  t.true(denied.some((r: any) => r.action === 'agent.register' && /already used/.test(r.details.reason)));
  t.true(
    denied.some((r: any) => r.actor === `agent:${agentA.agentId}` && r.details.reason === `agent:${agentA.agentId} may not act for agent ${agentB.agentId}`),
  );
  t.true(denied.some((r: any) => r.actor === `agent:${agentA.agentId}` && r.details.reason === 'report for another agent or site'));
  t.true(denied.some((r: any) => r.actor === 'anonymous' && r.details.status === 401));
});
