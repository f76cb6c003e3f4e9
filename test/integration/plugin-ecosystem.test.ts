/**
 * A plugin author's whole story, with the real tools: the local registry (Verdaccio),
 * `sprout plugin new`, `npm publish`, `sprout plugin install` into a lab's plugin
 * directory, a restart, the plugin listed, its subcommand working, its hardware test run
 * while the lab commissions a simulated machine, and `sprout plugin remove` taking it
 * all away again. Also: scaffolded packages pass their own `npm test`, and a package
 * that fails validation is refused with every reason and removed again.
 * Everything runs on loopback; registry and lab are stopped and their folders removed.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, sprout, type Run } from '@sprout/test-support/processes.ts';

const packageName = '@acme/sprout-plugin-burnin';

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-ecosystem-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'home'));
  return dir;
}

/** npm with its cache and user config inside the test's folder. */
function npm(args: string[], cwd: string, home: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('npm', args, {
      cwd,
      env: { ...cleanEnv(), HOME: home, npm_config_cache: join(home, '.npm'), npm_config_userconfig: join(home, '.npmrc') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const ok = (t: { is(a: unknown, b: unknown, m?: string): void }, run: Run, what: string) => t.is(run.code, 0, `${what}:\n${run.stdout}\n${run.stderr}`);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('publish, install, use and remove a third-party plugin contributing a hardware test and a subcommand', async (t) => {
  t.timeout(420_000);
  const root = scratch(t);
  const home = join(root, 'home');
  const env = { HOME: home, XDG_CONFIG_HOME: home, npm_config_cache: join(home, '.npm'), npm_config_userconfig: join(home, '.npmrc') };
  const labDir = join(root, 'lab');
  const config = join(labDir, 'sprout.yaml');
  const cli = (args: string[], extra: Record<string, string> = {}) => sprout(args, { cwd: root, env: { ...env, ...extra } });

  // the local registry
  const registryDir = join(root, 'registry');
  t.teardown(() => cli(['registry', 'stop', '--data-dir', registryDir]).then(() => undefined));
  const started = await cli(['registry', 'start', '--port', '0', '--data-dir', registryDir, '--json']);
  ok(t, started, 'registry start');
  const registry = JSON.parse(started.stdout) as { url: string; npmAuth: string };
  t.regex(registry.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  ok(t, await cli(['registry', 'status', '--data-dir', registryDir]), 'registry status');
  t.regex(readFileSync(join(registryDir, 'config.yaml'), 'utf8'), /^uplinks: \{\}$/m, 'no uplinks: nothing goes to the internet');

  // scaffold and publish
  const made = await cli(['plugin', 'new', packageName, '--capability', 'hwtest', '--dir', join(root, 'burnin'), '--json']);
  ok(t, made, 'plugin new');
  t.is(JSON.parse(made.stdout).id, 'burnin');
  ok(t, await npm(['publish', '--registry', registry.url, `--${registry.npmAuth}`], join(root, 'burnin'), home), 'npm publish');

  // a lab, and the plugin installed into its plugin directory
  t.teardown(() => cli(['lab', 'down', '--dir', labDir, '--purge']).then(() => undefined));
  const up = await cli(['lab', 'up', '--dir', labDir, '--port', '0', '--json']);
  ok(t, up, 'lab up');
  // The lab's agent keeps the control plane's URL from its first start: restarts reuse the port.
  const apiPort = new URL(JSON.parse(up.stdout).url).port;
  const installed = await cli(['plugin', 'install', packageName, '--registry', registry.url, '--config', config, '--json']);
  ok(t, installed, 'plugin install');
  t.like(JSON.parse(installed.stdout), { packageName, id: 'burnin', provides: ['hwtest'], enabled: [], needsChoice: [] });
  t.true(existsSync(join(labDir, 'control-plane', 'plugins', 'node_modules', '@acme', 'sprout-plugin-burnin', 'package.json')));
  t.false(
    existsSync(join(labDir, 'control-plane', 'plugins', 'node_modules', '@sprout', 'kernel')),
    "the peer @sprout/kernel is not installed: the plugin uses the lab's",
  );

  const restart = async () => {
    ok(t, await cli(['lab', 'down', '--dir', labDir]), 'lab down');
    ok(t, await cli(['lab', 'up', '--dir', labDir, '--port', apiPort]), 'lab up again');
    const exported = await cli(['lab', 'status', '--dir', labDir, '--env']);
    const labEnv = Object.fromEntries([...exported.stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    const status = JSON.parse((await cli(['lab', 'status', '--dir', labDir, '--json'])).stdout) as { services: { dhcp: string; relay: string; tftp: string } };
    return { labEnv: { ...labEnv, SPROUT_CONFIG: config }, services: status.services };
  };
  let lab = await restart();
  const withLab = (args: string[]) => cli(args, lab.labEnv);

  // listed, and its subcommand works like a builtin one
  const list = await withLab(['plugin', 'list', '--json']);
  ok(t, list, 'plugin list');
  t.like(
    JSON.parse(list.stdout).items.find((p: { id: string }) => p.id === 'burnin'),
    { packageName, builtin: false, active: true, activeFor: ['hwtest'] },
  );
  const help = await withLab(['--help']);
  t.regex(help.stdout, /Burnin[\s\S]*sprout burnin report/);
  const report = await withLab(['burnin', 'report']);
  ok(t, report, 'burnin report');
  t.regex(report.stdout, /plugin\s+burnin/);
  const reportJson = await withLab(['burnin', 'report', '--json']);
  ok(t, reportJson, 'burnin report --json');
  t.like(JSON.parse(reportJson.stdout), { plugin: 'burnin', tests: [{ name: 'burnin', run: { kind: 'script' } }] });
  const unauthorised = await cli(['burnin', 'report', '--json'], { ...lab.labEnv, SPROUT_TOKEN: 'sprout_wrong' });
  t.is(unauthorised.code, 1, 'an API error is exit 1');
  t.is(JSON.parse(unauthorised.stdout).status, 401);

  // a commissioning in the lab sends the burnin test, its script included, to the machine
  const mac = '52:54:00:5e:20:01';
  ok(t, await withLab(['machine', 'create', 'burn-01', '--site', 'lab', '--mac', mac, '--cpus', '2']), 'machine create');
  const commission = await withLab(['machine', 'commission', 'burn-01', '--json']);
  ok(t, commission, 'machine commission');
  t.true(JSON.stringify(JSON.parse(commission.stdout)).includes('"burnin"'), `the commission's hardware tests name burnin: ${commission.stdout}`);
  // power it on: `sprout lab simulate` relays from another address of the lab's PXE network
  // (the lab's own simulator holds 127.77.0.1); the agent answers to giaddr on the relay port
  const port = (hostPort: string) => hostPort.slice(hostPort.lastIndexOf(':') + 1);
  const simulated = withLab([
    'lab',
    'simulate',
    '--dhcp',
    lab.services.dhcp,
    '--relay',
    `127.77.0.2:${port(lab.services.relay)}`,
    '--tftp-port',
    port(lab.services.tftp),
    '--mac',
    mac,
    '--retry-delay',
    '500',
    '--timeout',
    '180',
  ]);
  const machine = await until(
    'burn-01 to be commissioned',
    async () => {
      const shown = await withLab(['machine', 'show', 'burn-01', '--json']);
      const view = shown.code === 0 ? JSON.parse(shown.stdout) : undefined;
      return view && !['new', 'commissioning'].includes(view.status) ? view : undefined;
    },
    200_000,
  );
  t.is(machine.status, 'ready', JSON.stringify(machine.statusReason));
  // The script reaches the machine with its step; a simulated machine runs no plugin script
  // (never on the agent's host) and skips it, as the real installer skips a test it cannot
  // run; the QEMU end-to-end test runs such a script for real.
  t.like(
    machine.hardwareTests.find((r: { name: string }) => r.name === 'burnin'),
    { name: 'burnin', status: 'skipped', output: 'burnin is a script test; the simulator runs no scripts' },
  );
  const simulation = await simulated;
  ok(t, simulation, 'lab simulate');
  t.regex(simulation.stdout, /hwtest\s+burnin skipped/, 'the machine was given the burnin test');

  // removing it takes it all away again
  const removed = await withLab(['plugin', 'remove', packageName, '--json']);
  ok(t, removed, 'plugin remove');
  t.false(existsSync(join(labDir, 'control-plane', 'plugins', 'node_modules', '@acme', 'sprout-plugin-burnin')));
  lab = await restart();
  t.false(JSON.parse((await withLab(['plugin', 'list', '--json'])).stdout).items.some((p: { id: string }) => p.id === 'burnin'));
  t.false((await withLab(['--help'])).stdout.includes('burnin report'));
  const gone = await withLab(['burnin', 'report']);
  t.not(gone.code, 0, 'the subcommand is gone');
  const again = await withLab(['machine', 'commission', 'burn-01', '--json']);
  ok(t, again, 'commission after removal');
  const params = JSON.stringify(JSON.parse(again.stdout));
  t.false(params.includes('"burnin"'), `no burnin in the next commission: ${params}`);
  t.true(params.includes('"cpu-inventory"'), 'the builtin tests are still there');
  ok(t, await withLab(['workflow', 'cancel', JSON.parse(again.stdout).id]), 'workflow cancel');
});

test('a package that fails validation is refused with every reason and removed again', async (t) => {
  t.timeout(120_000);
  const root = scratch(t);
  const home = join(root, 'home');
  writeFileSync(join(root, 'sprout.yaml'), `dataDir: ${join(root, 'data')}\n`);
  const bad = join(root, 'bad');
  mkdirSync(join(bad, 'src'), { recursive: true });
  writeFileSync(
    join(bad, 'package.json'),
    JSON.stringify({
      name: '@acme/sprout-plugin-bad',
      version: '1.0.0',
      type: 'module',
      exports: './src/index.ts',
      sprout: { id: 'bad', provides: ['hwtest', 'teleport'], consumes: ['warp'], apiVersion: '^2.0.0' },
    }),
  );
  writeFileSync(join(bad, 'src', 'index.ts'), "export default { id: 'bad' };\n");
  const run = await sprout(['plugin', 'install', './bad', '--json'], { cwd: root, env: { HOME: home, npm_config_cache: join(home, '.npm') } });
  t.is(run.code, 1, run.stderr);
  const problem = JSON.parse(run.stdout) as { code: string; detail: string; errors: { field: string; message: string }[] };
  t.is(problem.code, 'SPROUT_ERR_PLUGIN_VALIDATION');
  t.regex(problem.detail, /@acme\/sprout-plugin-bad is refused and was removed again: 4 problems/);
  const messages = problem.errors.map((e) => e.message).join('\n');
  t.regex(messages, /provides unknown capability "teleport"/);
  t.regex(messages, /needs kernel API \^2\.0\.0/);
  t.regex(messages, /consumes "warp" but no active plugin provides it/);
  t.regex(messages, /must export default definePlugin/);
  t.false(existsSync(join(root, 'data', 'plugins', 'node_modules', '@acme', 'sprout-plugin-bad')));
  t.deepEqual(JSON.parse(readFileSync(join(root, 'data', 'plugins', 'package.json'), 'utf8')).dependencies ?? {}, {});
});

// One at a time: each boots a kernel, and the machine running CI may be small.
for (const capability of ['hwtest', 'dns', 'dhcp', 'none'] as const) {
  test.serial(`a scaffolded ${capability} plugin passes its own npm test, which loads it in a kernel`, async (t) => {
    t.timeout(180_000);
    const root = scratch(t);
    const made = await sprout(['plugin', 'new', `@acme/sprout-plugin-sc-${capability}`, '--capability', capability, '--json'], {
      cwd: root,
      env: { HOME: join(root, 'home') },
    });
    ok(t, made, 'plugin new');
    const dir = JSON.parse(made.stdout).dir as string;
    const run = await npm(['test'], dir, join(root, 'home'));
    ok(t, run, 'npm test');
    t.regex(run.stdout, /loads in a Sprout server/);
    if (capability === 'dns') t.regex(run.stdout, /an invalid record is refused with SPROUT_ERR_VALIDATION/, 'the shared dns contract ran');
    if (capability === 'dhcp') t.regex(run.stdout, /a malformed MAC or address is refused with SPROUT_ERR_VALIDATION/, 'the shared dhcp contract ran');
  });
}

test('--enable selects a one-capability plugin in the config file, keeping its comments; remove drops the selection', async (t) => {
  t.timeout(180_000);
  const root = scratch(t);
  const env = { HOME: join(root, 'home'), npm_config_cache: join(root, 'home', '.npm') };
  writeFileSync(join(root, 'sprout.yaml'), `# the operator's own notes stay\ndataDir: ${join(root, 'data')}\n`);
  ok(t, await sprout(['plugin', 'new', 'memdns', '--capability', 'dns', '--dir', 'memdns'], { cwd: root, env }), 'plugin new');
  const installed = await sprout(['plugin', 'install', './memdns', '--enable', '--json'], { cwd: root, env });
  ok(t, installed, 'plugin install --enable');
  t.like(JSON.parse(installed.stdout), { packageName: 'sprout-plugin-memdns', id: 'memdns', enabled: ['dns'] });
  const yaml = readFileSync(join(root, 'sprout.yaml'), 'utf8');
  t.regex(yaml, /^# the operator's own notes stay$/m);
  t.regex(yaml, /capabilities:\s+dns:\s+use: memdns/);
  const list = JSON.parse((await sprout(['plugin', 'list', '--json'], { cwd: root, env })).stdout);
  t.deepEqual(list.items.find((p: { id: string }) => p.id === 'memdns').activeFor, ['dns']);
  t.false(list.items.find((p: { id: string }) => p.id === 'dns-builtin').active);

  const removed = await sprout(['plugin', 'remove', 'memdns', '--json'], { cwd: root, env });
  ok(t, removed, 'plugin remove');
  t.deepEqual(JSON.parse(removed.stdout).disabled, ['dns']);
  t.notRegex(readFileSync(join(root, 'sprout.yaml'), 'utf8'), /memdns/);
  const after = JSON.parse((await sprout(['plugin', 'list', '--json'], { cwd: root, env })).stdout);
  t.false(after.items.some((p: { id: string }) => p.id === 'memdns'));
  t.true(after.items.find((p: { id: string }) => p.id === 'dns-builtin').active, 'dns falls back to the builtin');
  const builtin = await sprout(['plugin', 'remove', 'dns-builtin'], { cwd: root, env });
  t.is(builtin.code, 1);
  t.regex(builtin.stderr, /builtin plugin and cannot be removed/);
});

test('plugin commands are grouped under their noun; one taking a builtin noun is left out with a warning', async (t) => {
  const root = scratch(t);
  const pkg = join(root, 'sprout.d', 'node_modules', 'sprout-plugin-tools');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(root, 'tools.yaml'), 'pluginDir: ./sprout.d\n');
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({
      name: 'sprout-plugin-tools',
      version: '1.0.0',
      type: 'module',
      exports: './index.ts',
      sprout: { id: 'tools', apiVersion: '^1.0.0', commands: './commands.ts' },
    }),
  );
  writeFileSync(join(pkg, 'index.ts'), "import { definePlugin } from '@sprout/kernel';\nexport default definePlugin({ id: 'tools' });\n");
  writeFileSync(
    join(pkg, 'commands.ts'),
    [
      "import { SproutCommand, Command } from '@sprout/kernel/cli';",
      'class ToolsPingCommand extends SproutCommand {',
      "  static paths = [['tools', 'ping']];",
      "  static usage = Command.Usage({ description: 'Answer pong' });",
      "  async run() { this.print({ pong: true }, () => 'pong'); return 0; }",
      '}',
      'export default [ToolsPingCommand];',
      '',
    ].join('\n'),
  );
  const help = await sprout(['--help'], { cwd: root, env: { SPROUT_CONFIG: join(root, 'tools.yaml') } });
  t.regex(help.stdout, /Tools[^\n]*\n+\s*\S*sprout tools ping/, 'grouped under its capitalised noun');
  const ping = await sprout(['tools', 'ping', '--json'], { cwd: root, env: { SPROUT_CONFIG: join(root, 'tools.yaml') } });
  ok(t, ping, 'tools ping');
  t.deepEqual(JSON.parse(ping.stdout), { pong: true });

  writeFileSync(join(pkg, 'commands.ts'), readFileSync(join(pkg, 'commands.ts'), 'utf8').replace("[['tools', 'ping']]", "[['machine', 'ping']]"));
  const hijack = await sprout(['--help'], { cwd: root, env: { SPROUT_CONFIG: join(root, 'tools.yaml') } });
  t.regex(hijack.stderr, /warning: commands of plugin tools could not be loaded: "sprout machine ping" uses the builtin noun "machine"/);
  t.false(hijack.stdout.includes('machine ping'));
  t.regex(hijack.stdout, /sprout machine list/, 'the builtin commands still work');
});
