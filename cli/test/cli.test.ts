/**
 * The `sprout` binary as an operator runs it: a real process, a real server on the
 * embedded store, and the output people read.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { bin, cleanEnv, freePort, sprout } from '@sprout/test-support/processes.ts';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const auditorFixture = fileURLToPath(new URL('../../kernel/test/fixtures/builtins/auditor', import.meta.url));

function workspace(yaml = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-cli-'));
  writeFileSync(join(dir, 'sprout.yaml'), yaml);
  mkdirSync(join(dir, 'home'));
  return dir;
}

test('--help lists the builtin commands and the commands of installed plugins', async (t) => {
  const dir = workspace();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const base = await sprout(['--help'], { cwd: dir });
  t.is(base.code, 0);
  for (const command of [
    'sprout server',
    'sprout config show',
    'sprout db migrate',
    'sprout plugin list',
    'sprout token create',
    'sprout audit list',
    'sprout login',
  ]) {
    t.true(base.stdout.includes(command), `${command} missing from --help`);
  }
  t.false(base.stdout.includes('auditor report'));

  // install the fixture plugin into the plugin directory the way npm would
  mkdirSync(join(dir, '.sprout/plugins/node_modules/@acme'), { recursive: true });
  symlinkSync(auditorFixture, join(dir, '.sprout/plugins/node_modules/@acme/sprout-plugin-auditor'));
  const withPlugin = await sprout(['--help'], { cwd: dir });
  t.true(withPlugin.stdout.includes('sprout auditor report'));
  const report = await sprout(['auditor', 'report', '--json'], { cwd: dir });
  t.is(report.code, 0);
  t.deepEqual(JSON.parse(report.stdout), { report: 'all quiet' });
});

test('plugin list --json shows builtins, their capabilities, and a config swap without code changes', async (t) => {
  const dir = workspace();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const list = await sprout(['plugin', 'list', '--json'], { cwd: dir });
  t.is(list.code, 0, list.stderr);
  const { items, problems } = JSON.parse(list.stdout);
  t.deepEqual(problems, []);
  const byId = Object.fromEntries(items.map((p: any) => [p.id, p]));
  for (const [id, capability] of [
    ['ipam-builtin', 'ipam'],
    ['dhcp-builtin', 'dhcp'],
    ['dns-builtin', 'dns'],
    ['hwtest-builtin', 'hwtest'],
    ['allocation-builtin', 'allocation'],
    ['transport-http', 'transport'],
  ]) {
    t.like(byId[id], { builtin: true, active: true, provides: [capability], activeFor: [capability] });
  }
  t.like(byId['netbox-stub'], { active: false, activeFor: [] });

  writeFileSync(
    join(dir, 'sprout.yaml'),
    'capabilities:\n  ipam: { use: netbox-stub }\nplugins:\n  netbox-stub: { url: "https://netbox.example", token: "secret-token" }\n',
  );
  const swapped = JSON.parse((await sprout(['plugin', 'list', '--json'], { cwd: dir })).stdout);
  const swappedById = Object.fromEntries(swapped.items.map((p: any) => [p.id, p]));
  t.like(swappedById['netbox-stub'], { active: true, activeFor: ['ipam'] });
  t.like(swappedById['ipam-builtin'], { active: false, activeFor: [] });

  const human = await sprout(['plugin', 'list'], { cwd: dir });
  t.regex(human.stdout, /^ID\s+VERSION\s+PROVIDES\s+ACTIVE FOR/m);
  t.regex(human.stdout, /netbox-stub\s+0\.1\.0\s+ipam\s+ipam\s+builtin/);
});

test('the server refuses to start on a missing plugin, reporting every problem with the install command', async (t) => {
  const dir = workspace('capabilities:\n  ipam: { use: netbox-enterprise }\n  dns: { use: "@acme/sprout-plugin-dns" }\n');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = await sprout(['server'], { cwd: dir });
  t.is(run.code, 1);
  t.regex(run.stderr, /2 plugin problems/);
  t.regex(
    run.stderr,
    /capabilities\.ipam\.use: plugin "netbox-enterprise" is not installed; install it with: npm install --prefix \S+ @sprout\/plugin-netbox-enterprise/,
  );
  t.regex(
    run.stderr,
    /capabilities\.dns\.use: plugin "@acme\/sprout-plugin-dns" is not installed; install it with: npm install --prefix \S+ @acme\/sprout-plugin-dns/,
  );
  t.false(existsSync(join(dir, '.sprout', 'pglite')), 'the database was opened although validation failed');
});

test('config show prints the effective config with secrets masked, and names bad keys', async (t) => {
  const dir = workspace('plugins:\n  netbox-stub: { token: "very-secret" }\n');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const shown = await sprout(['config', 'show', '--json'], { cwd: dir, env: { SPROUT_DATABASE_URL: 'postgres://sprout:pw123@db/sprout' } });
  t.is(shown.code, 0, shown.stderr);
  const { config } = JSON.parse(shown.stdout);
  t.is(config.database.url, 'postgres://sprout:********@db/sprout');
  t.is(config.plugins['netbox-stub'].token, '********');
  t.false(shown.stdout.includes('very-secret'));

  writeFileSync(join(dir, 'sprout.yaml'), 'listen: 7480\nlog: { level: chatty }\n');
  const bad = await sprout(['config', 'show'], { cwd: dir });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /listen: must be string \(expected host:port\)/);
  t.regex(bad.stderr, /log\.level: must be one of: fatal, error, warn, info, debug, trace, silent/);
});

test('against a running server: tokens, a denied viewer, the audit trail and login', async (t) => {
  const port = await freePort();
  const dir = workspace(`listen: 127.0.0.1:${port}\n`);
  const env = { XDG_CONFIG_HOME: join(dir, 'home') };
  let server: ChildProcess | undefined;
  t.teardown(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((resolve) => server!.on('exit', resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  });
  server = spawn(process.execPath, [bin, 'server'], { cwd: dir, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout!.on('data', (d) => (log += d));
  server.stderr!.on('data', (d) => (log += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 60_000);
    const check = () => (log.includes('sprout server is listening') ? (clearTimeout(timer), resolve()) : setTimeout(check, 100));
    server!.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
    check();
  });
  const tokenFile = join(dir, '.sprout', 'admin-token');
  t.is(statSync(tokenFile).mode & 0o777, 0o600);
  t.false(log.includes((await import('node:fs')).readFileSync(tokenFile, 'utf8').trim()), 'the admin token appeared in the log');

  // the CLI on the server's machine finds the server and its admin token by itself
  const created = await sprout(['token', 'create', '--role', 'viewer', '--name', 'dash', '--json'], { cwd: dir, env });
  t.is(created.code, 0, created.stderr);
  const viewer = JSON.parse(created.stdout).secret;

  const denied = await sprout(['token', 'create', '--role', 'admin', '--name', 'escalate'], {
    cwd: dir,
    env: { ...env, SPROUT_URL: `http://127.0.0.1:${port}`, SPROUT_TOKEN: viewer },
  });
  t.is(denied.code, 1);
  t.regex(denied.stderr, /token:dash has role viewer; token\.create needs admin \(SPROUT_ERR_FORBIDDEN, HTTP 403\)/);

  const badRole = await sprout(['token', 'create', '--role', 'root'], { cwd: dir, env });
  t.not(badRole.code, 0);
  t.regex(badRole.stdout + badRole.stderr, /--role/);

  const audit = await sprout(['audit', 'list', '--outcome', 'denied', '--json'], { cwd: dir, env });
  t.is(audit.code, 0, audit.stderr);
  t.like(JSON.parse(audit.stdout).items[0], { actor: 'token:dash', action: 'token.create', outcome: 'denied' });
  const table = await sprout(['audit', 'list'], { cwd: dir, env });
  t.regex(table.stdout, /token:dash\s+token\.create\s+token\s+denied/);

  const login = await sprout(['login', '--url', `http://127.0.0.1:${port}`, '--token', viewer], { cwd: dir, env });
  t.is(login.code, 0, login.stderr);
  t.regex(login.stdout, /logged in to .* as token:dash \(viewer\)/);
  t.is(statSync(join(dir, 'home', 'sprout', 'profile.json')).mode & 0o777, 0o600);
  const asViewer = await sprout(['token', 'list'], { cwd: dir, env });
  t.is(asViewer.code, 1, 'the profile (a viewer) is used, and token list needs admin');

  const unreachable = await sprout(['audit', 'list'], { cwd: dir, env: { ...env, SPROUT_URL: 'http://127.0.0.1:9', SPROUT_TOKEN: viewer } });
  t.is(unreachable.code, 1);
  t.regex(unreachable.stderr, /cannot reach the Sprout API at http:\/\/127\.0\.0\.1:9/);
});
