/**
 * The agent's `ra` service ends iPXE's IPv6 router solicitation wait: inside a namespace,
 * a real agent answers a real solicitation (ndisc6's rdisc6, from a second namespace on
 * the same bridge) with an advertisement that configures nothing — no prefix, no
 * managed/other flags, router lifetime 0 — and takes its radvd with it when it stops.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createNetns } from '@sprout/test-support/netns.ts';
import { bin, cleanEnv, sprout, startServer } from '@sprout/test-support/processes.ts';
import { until } from '@sprout/test-support/until.ts';

const run = promisify(execFile);

test.serial('an agent with services.ra answers router solicitations with an advertisement that configures nothing', async (t) => {
  const server = await startServer({}, 'agents: { heartbeatSeconds: 1 }\n');
  t.teardown(() => server.stop());
  const cli = async (...args: string[]) => {
    const r = await sprout(args, { cwd: server.dir, env: server.env });
    if (r.code !== 0) throw new Error(`sprout ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const ns = await createNetns(t, '198.18.98');
  await ns.forwardToHost(server.port);

  const site = JSON.parse(await cli('site', 'create', 'lab', '--json'));
  const work = server.dir;
  const config = join(work, 'agent.yaml');
  writeFileSync(
    config,
    [
      `controlPlane: http://127.0.0.1:${server.port}`,
      `joinToken: ${site.joinToken.token}`,
      `dataDir: ${join(work, 'agent')}`,
      'hostname: agent-ra',
      'services:',
      `  ra: { interfaces: [${ns.address}] }`,
      '',
    ].join('\n'),
  );
  const agent = ns.spawn(process.execPath, [bin, 'agent', 'run', '--config', config], { cwd: work, env: { ...cleanEnv(), ...server.env } });
  await agent.waitFor('sprout agent is running');
  t.regex(agent.log(), /ra: answering IPv6 router solicitations/);

  // Only now is a machine plugged into the agent's bridge (a second namespace, the
  // machine's side of the wire): the agent started on a bridge with no carrier (its tap
  // has no VM), which Node's own interface list leaves out.
  const client = `${ns.name}-c`;
  await run('ip', ['netns', 'add', client]);
  t.teardown(() =>
    run('ip', ['netns', 'del', client]).then(
      () => undefined,
      () => undefined,
    ),
  );
  const peer = `v${randomBytes(3).toString('hex')}`;
  await run('ip', ['link', 'add', peer, 'netns', ns.name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
  await run('ip', ['-n', ns.name, 'link', 'set', peer, 'master', 'br0', 'up']);
  await run('ip', ['-n', client, 'link', 'set', 'eth0', 'up']);

  // rdisc6 solicits once and prints the advertisement it gets (links need a moment for their link-local addresses).
  const answer = await until(
    'an advertisement',
    async () => {
      const solicited = await run('ip', ['netns', 'exec', client, 'rdisc6', '-1', '-w', '1500', 'eth0']).catch(() => undefined);
      return solicited?.stdout.includes('Router lifetime') ? solicited.stdout : false;
    },
    30_000,
  );
  t.regex(answer, /Router lifetime\s*:\s*0 \(0x00000000\) seconds/);
  t.regex(answer, /Stateful address conf\.\s*:\s*No/);
  t.regex(answer, /Stateful other conf\.\s*:\s*No/);
  t.notRegex(answer, /Prefix\s*:/, 'no prefix: the machine configures no IPv6 address');
  t.regex(answer, /from fe80::/);

  // The operator sees the service running in `site show`.
  const shown = await until(
    'ra in site show',
    async () => {
      const out = await cli('site', 'show', 'lab');
      return /\bra\b.*running/.test(out) && out;
    },
    20_000,
  );
  t.regex(shown, /\bra\b/);

  const radvdConf = join(work, 'agent', 'ra', 'radvd.conf');
  t.true(existsSync(radvdConf));
  t.regex(readFileSync(radvdConf, 'utf8'), /interface br0 \{[^}]*AdvDefaultLifetime 0;/);
  const radvds = async () => (await run('pgrep', ['-f', radvdConf]).catch(() => ({ stdout: '' }))).stdout.trim();
  t.not(await radvds(), '', 'radvd runs');
  await agent.stop('SIGTERM');
  t.is(await radvds(), '', 'radvd stops with the agent');
});

test('services.ra settings are checked before the agent joins: each bad field named', async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  const config = join(server.dir, 'agent.yaml');
  writeFileSync(
    config,
    [
      'controlPlane: http://127.0.0.1:1',
      'joinToken: not-used',
      `dataDir: ${join(server.dir, 'agent')}`,
      'services:',
      '  ra: { interfaces: "br0", intervalSeconds: 1, colour: blue }',
      '',
    ].join('\n'),
  );
  const r = await sprout(['agent', 'run', '--config', config], { cwd: server.dir, env: server.env });
  t.is(r.code, 1);
  t.regex(r.stderr, /services\.ra\.interfaces/);
  t.regex(r.stderr, /services\.ra\.intervalSeconds/);
  t.regex(r.stderr, /services\.ra\.colour/);
  t.notRegex(r.stderr, /^\s+at /m, 'no stack trace');
});
