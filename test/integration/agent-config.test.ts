/**
 * The agent refuses a bad agent.yaml before it spends its join token, naming every bad
 * field, and a configured service that cannot start (its port taken) ends the agent with
 * exit code 1 after its heartbeat told the control plane, so `sprout site show` says why.
 */
import test from 'ava';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, sprout, freePort } from '@sprout/test-support/processes.ts';

test('a bad agent.yaml is named field by field and exits 1; the join token still works; a taken port ends the agent and site show says why', async (t) => {
  const server = await startServer({}, 'agents: { heartbeatSeconds: 0.5 }\n');
  const dir = mkdtempSync(join(tmpdir(), 'sprout-agent-config-'));
  t.teardown(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const run = (...args: string[]) => sprout(args, { cwd: server.dir, env: server.env });
  const site = JSON.parse((await run('site', 'create', 'edge', '--json')).stdout);
  const joinToken = site.joinToken.token;
  const controlPlane = `http://127.0.0.1:${server.port}`;

  writeFileSync(
    join(dir, 'bad.yaml'),
    [
      `controlPlane: ${controlPlane}`,
      `joinToken: ${joinToken}`,
      `dataDir: ${join(dir, 'data')}`,
      'heartbeat: 5',
      'services:',
      '  tftp: { port: sixty-nine, root: /tmp }',
      '  dhcp: { leaseSecs: 600 }',
      '  ftp: {}',
    ].join('\n'),
  );
  const bad = await run('agent', 'run', '--config', join(dir, 'bad.yaml'));
  t.is(bad.code, 1);
  t.regex(bad.stderr, /agent config .*bad\.yaml is invalid/);
  t.regex(bad.stderr, /- heartbeat: unknown key/);
  t.notRegex(bad.stderr, /\n\s+at /, 'no stack trace');

  // The top level passes; the services' own checks (the agent's tftp, the dhcp plugin's) name their fields.
  writeFileSync(join(dir, 'bad.yaml'), readFileSync(join(dir, 'bad.yaml'), 'utf8').replace('heartbeat: 5\n', ''));
  const badServices = await run('agent', 'run', '--config', join(dir, 'bad.yaml'));
  t.is(badServices.code, 1);
  t.regex(badServices.stderr, /- services\.tftp\.port: must be an integer from 0 to 65535, got "sixty-nine"/);
  t.regex(badServices.stderr, /- services\.dhcp\.leaseSecs: is not a dhcp setting/);
  t.regex(badServices.stderr, /- services\.ftp: no installed plugin offers a "ftp" service/);
  t.deepEqual(JSON.parse((await run('site', 'show', 'edge', '--json')).stdout).agents, [], 'no agent joined');

  // The same token joins: nothing spent it. TFTP's port is taken, HTTP boot's is free.
  const taken = createSocket('udp4');
  await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const tftpPort = taken.address().port;
  const httpPort = await freePort();
  mkdirSync(join(dir, 'artifacts'));
  writeFileSync(
    join(dir, 'agent.yaml'),
    [
      `controlPlane: ${controlPlane}`,
      `joinToken: ${joinToken}`,
      `dataDir: ${join(dir, 'data')}`,
      'hostname: edge-agent',
      'services:',
      `  tftp: { port: ${tftpPort}, address: 127.0.0.1, root: ${dir} }`,
      `  http: { port: ${httpPort}, address: 127.0.0.1, artifactRoot: ${join(dir, 'artifacts')} }`,
    ].join('\n'),
  );
  const failed = await run('agent', 'run', '--config', join(dir, 'agent.yaml'));
  t.is(failed.code, 1, failed.stderr);
  t.regex(failed.stderr, /1 configured site service\(s\) could not start/);
  t.regex(failed.stderr, /services\.tftp: .*EADDRINUSE/);
  t.notRegex(failed.stderr, /sprout agent is running/);

  const shown = await run('site', 'show', 'edge');
  t.is(shown.code, 0, shown.stderr);
  t.regex(shown.stdout, /services of agent edge-agent:/);
  t.regex(shown.stdout, /\btftp\s+failed\s+.*EADDRINUSE/);
  t.regex(shown.stdout, /\bhttp\s+running\s+-/);
  const json = JSON.parse((await run('site', 'show', 'edge', '--json')).stdout);
  t.like(json.agents[0].services.tftp, { state: 'failed' });
  t.like(json.agents[0].services.http, { state: 'running' });
});
