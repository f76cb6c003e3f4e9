/**
 * A control plane with one site ("lab") and its PXE network, plus a way to start the
 * site's agent with a `services:` block: what process-level provisioning tests share.
 * Everything is removed at teardown.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { spawnSprout, sprout, startServer, type LongRunning, type ServerProcess } from './processes.ts';

export interface SiteLab {
  server: ServerProcess;
  /** A scratch folder removed at teardown. */
  work: string;
  cli(...args: string[]): ReturnType<typeof sprout>;
  /** Starts the site's agent with these `services:` lines (YAML, two-space indented). */
  startAgent(services: string[]): Promise<LongRunning>;
}

export async function siteLab(t: ExecutionContext, subnet: string): Promise<SiteLab> {
  const server = await startServer({}, 'agents: { heartbeatSeconds: 0.5 }\n');
  const work = mkdtempSync(join(tmpdir(), 'sprout-lab-'));
  const agents: LongRunning[] = [];
  t.teardown(async () => {
    for (const agent of agents) await agent.stop('SIGTERM');
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  });
  const cli = (...args: string[]) => sprout(args, { cwd: server.dir, env: server.env });
  const site = JSON.parse((await cli('site', 'create', 'lab', '--json')).stdout);
  const network = await cli('network', 'create', '--site', 'lab', '--name', 'prov', '--cidr', `${subnet}.0/24`, '--gateway', `${subnet}.1`, '--domain', 'lab.example', '--pxe');
  if (network.code !== 0) throw new Error(`network create failed: ${network.stderr}`);
  return {
    server,
    work,
    cli,
    async startAgent(services) {
      const config = join(work, 'agent.yaml');
      writeFileSync(config, [`controlPlane: http://127.0.0.1:${server.port}`, `joinToken: ${site.joinToken.token}`, `dataDir: ${join(work, 'agent')}`, 'hostname: agent-lab', 'services:', ...services, ''].join('\n'));
      const agent = spawnSprout(['agent', 'run', '--config', config], { cwd: server.dir, env: server.env });
      agents.push(agent);
      await agent.waitFor('sprout agent is running');
      return agent;
    },
  };
}
