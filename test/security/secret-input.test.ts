/**
 * Secrets given to the CLI and the server stay out of what others can see: `config show`
 * and the server's log mask every password and token inside URLs (userinfo, a server
 * list, query parameters); the agent's join token and the login token can come from a
 * file, standard input or the environment instead of argv, which every user of the
 * machine can read in /proc/PID/cmdline; a flag naming an unreadable file is a one-line
 * error naming the flag and the path. Everything runs as real `sprout` processes.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, cleanEnv, sprout, startServer, type ServerProcess } from '@sprout/test-support/processes.ts';
import { postgresUrl, withPostgres } from '@sprout/test-support/harness.ts';

function folder(t: any): string {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-secret-input-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const stackLine = /^\s+at /m;

const urlCases: { name: string; env: Record<string, string>; secrets: string[]; hosts: string[] }[] = [
  {
    name: 'a NATS token as userinfo',
    env: { SPROUT_NATS_URL: 'nats://natsTok3n5ecret@nats-a.example:4222' },
    secrets: ['natsTok3n5ecret'],
    hosts: ['nats-a.example:4222'],
  },
  {
    name: 'a NATS server list with a password on each',
    env: { SPROUT_NATS_URL: 'nats://cp:firstPa55word@nats-1.example:4222,nats://cp:secondPa55word@nats-2.example:4222,nats://clusterTok3n@nats-3.example' },
    secrets: ['firstPa55word', 'secondPa55word', 'clusterTok3n'],
    hosts: ['nats-1.example:4222', 'nats-2.example:4222', 'nats-3.example'],
  },
  {
    name: 'a password and other secrets as query parameters of the database URL',
    env: {
      SPROUT_DATABASE_URL:
        'postgres://db.example/sprout?password=queryPa55&sslpassword=keyPa55&sslkey=-----BEGIN%20PRIVATE%20KEY-----&api_key=apiKey123&application_name=cp',
    },
    secrets: ['queryPa55', 'keyPa55', 'BEGIN%20PRIVATE', 'apiKey123'],
    hosts: ['db.example/sprout', 'application_name=cp'],
  },
  // An unencoded @ in the password: the host starts after the last @ of the authority.
  {
    name: 'a password as userinfo of the database URL',
    env: { SPROUT_DATABASE_URL: 'postgres://sprout:userinfo@Pa55@db.example:5432/sprout' },
    secrets: ['userinfo', 'Pa55'],
    hosts: ['sprout:********@db.example:5432/sprout'],
  },
];

for (const c of urlCases) {
  test(`config show masks ${c.name} and still shows the host`, async (t) => {
    const dir = folder(t);
    for (const args of [
      ['config', 'show'],
      ['config', 'show', '--json'],
    ]) {
      const shown = await sprout(args, { cwd: dir, env: c.env });
      t.is(shown.code, 0, shown.stderr);
      const output = shown.stdout + shown.stderr;
      for (const secret of c.secrets) t.false(output.includes(secret), `${args.join(' ')} printed ${secret}:\n${output}`);
      for (const host of c.hosts) t.true(output.includes(host), `${args.join(' ')} lost ${host}:\n${output}`);
    }
  });
}

test("the server's log and `db migrate` never print a password given as a query parameter of the database URL", async (t) => {
  t.timeout(120_000);
  const database = `sprout_secrets_${randomBytes(4).toString('hex')}`;
  await withPostgres((db) => db.raw(`create database ${database}`));
  let server: ServerProcess | undefined;
  t.teardown(async () => {
    await server?.stop();
    await withPostgres((db) => db.raw(`drop database if exists ${database} with (force)`));
  });
  // Trust authentication ignores the password: the server starts, and must not show it.
  const url = `${postgresUrl.replace(/\/[^/]*$/, `/${database}`)}?password=s3cretvalue&application_name=x`;
  server = await startServer({ SPROUT_DATABASE_URL: url });
  t.true(server.log().includes(`/${database}?password=********&application_name=x`), server.log());
  const migrate = await sprout(['db', 'migrate'], { cwd: server.dir, env: server.env });
  t.is(migrate.code, 0, migrate.stderr);
  t.regex(migrate.stdout, new RegExp(`${database}\\?password=\\*{8}&application_name=x: already up to date`));
  t.false((server.log() + migrate.stdout + migrate.stderr).includes('s3cretvalue'), server.log());
});

test('an agent takes its join token from a file, standard input or SPROUT_JOIN_TOKEN, and the token is not in its command line', async (t) => {
  t.timeout(180_000);
  const server = await startServer({}, 'agents: { heartbeatSeconds: 1 }\n');
  t.teardown(() => server.stop());
  const dir = folder(t);
  const run = (...args: string[]) => sprout(args, { cwd: server.dir, env: server.env });
  t.is((await run('site', 'create', 'fra1')).code, 0);
  const ways: { name: string; args: (token: string) => string[]; env?: (token: string) => Record<string, string>; input?: (token: string) => string }[] = [
    {
      name: 'file',
      args: (token) => {
        const file = join(dir, 'join-token');
        writeFileSync(file, `${token}\n`, { mode: 0o600 });
        return ['--join-token-file', file];
      },
    },
    { name: 'stdin (--join-token -)', args: () => ['--join-token', '-'], input: (token) => `${token}\n` },
    { name: 'stdin (--join-token-file -)', args: () => ['--join-token-file', '-'], input: (token) => token },
    { name: 'SPROUT_JOIN_TOKEN', args: () => [], env: (token) => ({ SPROUT_JOIN_TOKEN: token }) },
  ];
  for (const [i, way] of ways.entries()) {
    const joined = await run('site', 'join-token', 'fra1', '--json');
    t.is(joined.code, 0, joined.stderr);
    const token: string = JSON.parse(joined.stdout).token;
    const hostname = `agent-${i}`;
    const args = [
      'agent',
      'run',
      '--control-plane',
      `http://127.0.0.1:${server.port}`,
      '--data-dir',
      join(dir, hostname),
      '--hostname',
      hostname,
      ...way.args(token),
    ];
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: server.dir,
      env: { ...cleanEnv(), ...server.env, ...way.env?.(token) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    t.teardown(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    if (way.input) child.stdin.end(way.input(token));
    else child.stdin.end();
    const deadline = Date.now() + 60_000;
    while (!log.includes('sprout agent is running') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    t.true(log.includes('sprout agent is running'), `${way.name}: ${log}`);
    // What every user of the machine can read while the agent runs.
    const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
    t.true(cmdline.includes('agent\0run'), cmdline);
    t.false(cmdline.includes(token), `${way.name}: the join token is in /proc/${child.pid}/cmdline`);
    t.false(log.includes(token), `${way.name}: the join token is in the agent's log`);
    t.true(existsSync(join(dir, hostname, 'agent.json')), `${way.name}: the agent registered`);
    child.kill('SIGTERM');
    await exited;
  }
  const site = JSON.parse((await run('site', 'show', 'fra1', '--json')).stdout);
  t.deepEqual(
    site.agents.map((a: { hostname: string }) => a.hostname).sort(),
    ways.map((_, i) => `agent-${i}`),
  );

  // The plain flag still works (it is visible in ps, which the docs say).
  const last = JSON.parse((await run('site', 'join-token', 'fra1', '--json')).stdout).token;
  const plain = spawn(
    process.execPath,
    [bin, 'agent', 'run', '--control-plane', `http://127.0.0.1:${server.port}`, '--data-dir', join(dir, 'plain'), '--join-token', last],
    { cwd: server.dir, env: { ...cleanEnv(), ...server.env }, stdio: 'ignore' },
  );
  const plainExit = new Promise((resolve) => plain.once('exit', resolve));
  t.teardown(async () => {
    if (plain.exitCode === null && plain.signalCode === null) {
      plain.kill('SIGKILL');
      await plainExit;
    }
  });
  const deadline = Date.now() + 60_000;
  while (!existsSync(join(dir, 'plain', 'agent.json')) && plain.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.true(existsSync(join(dir, 'plain', 'agent.json')), 'the agent registered with --join-token');
  plain.kill('SIGTERM');
  await plainExit;
});

test('sprout login takes its token from a file or standard input; a missing, unreadable or empty token file is a one-line error naming the flag and path', async (t) => {
  t.timeout(120_000);
  const server = await startServer();
  t.teardown(() => server.stop());
  const dir = folder(t);
  const admin = readFileSync(join(server.dir, '.sprout', 'admin-token'), 'utf8').trim();
  const url = `http://127.0.0.1:${server.port}`;
  const env = { XDG_CONFIG_HOME: join(dir, 'home') };

  const file = join(dir, 'token');
  writeFileSync(file, `${admin}\n`, { mode: 0o600 });
  const fromFile = await sprout(['login', '--url', url, '--token-file', file], { cwd: dir, env });
  t.is(fromFile.code, 0, fromFile.stderr);
  t.regex(fromFile.stdout, /logged in to .* as token:\S+ \(admin\)/);
  t.is(fromFile.stderr, '', 'a 0600 file draws no warning');
  t.is(JSON.parse(readFileSync(join(dir, 'home', 'sprout', 'profile.json'), 'utf8')).token, admin);
  rmSync(join(dir, 'home'), { recursive: true });

  for (const args of [
    ['--token-file', '-'],
    ['--token', '-'],
  ]) {
    const fromStdin = await sprout(['login', '--url', url, ...args], { cwd: dir, env, input: `${admin}\n` });
    t.is(fromStdin.code, 0, fromStdin.stderr);
    t.regex(fromStdin.stdout, /logged in to .* as token:\S+ \(admin\)/);
    t.is(JSON.parse(readFileSync(join(dir, 'home', 'sprout', 'profile.json'), 'utf8')).token, admin);
    rmSync(join(dir, 'home'), { recursive: true });
  }

  chmodSync(file, 0o644);
  const shared = await sprout(['login', '--url', url, '--token-file', file], { cwd: dir, env });
  t.is(shared.code, 0, shared.stderr);
  t.regex(shared.stderr, new RegExp(`warning: --token-file ${file} can be read by others \\(mode 0644\\)`));

  const empty = join(dir, 'empty');
  writeFileSync(empty, '\n', { mode: 0o600 });
  const unreadable = join(dir, 'unreadable');
  writeFileSync(unreadable, admin, { mode: 0o000 });
  const cases = [
    { path: join(dir, 'missing'), why: 'no such file' },
    { path: empty, why: 'is empty' },
    { path: dir, why: 'is a folder, not a file' },
    ...(process.getuid?.() === 0 ? [] : [{ path: unreadable, why: 'permission denied' }]),
  ];
  for (const c of cases) {
    const failed = await sprout(['login', '--url', url, '--token-file', c.path], { cwd: dir, env });
    t.is(failed.code, 1, failed.stdout);
    t.is(failed.stderr, `error: --token-file ${c.path}: ${c.why}\n`);
    t.false(stackLine.test(failed.stderr));
  }
});

test('a flag naming a file that cannot be read answers one line naming the flag and the path, exit 1, no stack trace', async (t) => {
  const dir = folder(t);
  const missing = join(dir, 'no-such-file.yaml');
  const cases = [
    { args: ['machine', 'deploy', 'node-01', '--image', 'debian-12.raw', '--user-data', missing], flag: '--user-data' },
    { args: ['machine', 'import', missing], flag: 'import file' },
    { args: ['agent', 'run', '--config', missing], flag: '--config' },
    {
      args: ['agent', 'run', '--control-plane', 'http://127.0.0.1:9', '--data-dir', join(dir, 'agent'), '--join-token-file', missing],
      flag: '--join-token-file',
    },
    { args: ['agent', 'run', '--control-plane', 'http://127.0.0.1:9', '--data-dir', join(dir, 'agent'), '--nats-url-file', missing], flag: '--nats-url-file' },
    { args: ['login', '--url', 'http://127.0.0.1:9', '--token-file', missing], flag: '--token-file' },
    { args: ['config', 'show', '--config', missing], flag: 'config file' },
  ];
  for (const c of cases) {
    const run = await sprout(c.args, { cwd: dir, env: { SPROUT_URL: 'http://127.0.0.1:9', SPROUT_TOKEN: 'unused-token-value' } });
    t.is(run.code, 1, `${c.args.join(' ')}: ${run.stdout}${run.stderr}`);
    t.is(run.stderr.trimEnd().split('\n').length, 1, `${c.args.join(' ')} printed more than one line:\n${run.stderr}`);
    t.true(run.stderr.startsWith('error: '), run.stderr);
    t.true(run.stderr.includes(c.flag) && run.stderr.includes(missing), `${c.args.join(' ')}: ${run.stderr}`);
    t.false(stackLine.test(run.stderr), run.stderr);
  }
});
