/**
 * The `sprout` binary runs the compiled JavaScript (cli/dist and the packages' dist/,
 * built by `npm ci` and `npm test`) with plain Node: these runs hide tsx from it, as an
 * installation without dev dependencies has none, and fail if anything still needs it.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bin, cleanEnv, type Run } from '@sprout/test-support/processes.ts';

const hide = fileURLToPath(new URL('./fixtures/hide-packages.mjs', import.meta.url));
const cliPackage = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** `node bin/sprout.js …` with `hidden` packages unresolvable. */
function run(args: string[], hidden: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', hide, bin, ...args], {
      cwd,
      env: { ...cleanEnv(), NODE_OPTIONS: '', HIDE_PACKAGES: hidden.join(','), XDG_CONFIG_HOME: join(cwd, 'home') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-built-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'home'));
  writeFileSync(join(dir, 'sprout.yaml'), '');
  return dir;
}

test('the built sprout answers --version with its package version, without tsx', async (t) => {
  const dir = scratch(t);
  for (const flag of ['--version', '-v']) {
    const version = await run([flag], ['tsx'], dir);
    t.is(version.code, 0, version.stderr);
    t.is(version.stdout, `${cliPackage.version}\n`);
    t.is(version.stderr, '');
  }
});

test('the built sprout loads every command and the builtin plugins from dist, without tsx', async (t) => {
  const dir = scratch(t);
  const help = await run(['--help'], ['tsx'], dir);
  t.is(help.code, 0, help.stderr);
  for (const command of ['sprout server', 'sprout agent run', 'sprout lab demo', 'sprout registry start'])
    t.true(help.stdout.includes(command), `${command} missing`);
  t.is(help.stderr, '');

  const plugins = await run(['plugin', 'list', '--json'], ['tsx'], dir);
  t.is(plugins.code, 0, plugins.stderr);
  const listed = (JSON.parse(plugins.stdout) as { items: { id: string; active: boolean }[] }).items;
  t.true(listed.some((p) => p.id === 'dhcp-builtin' && p.active));
  t.true(listed.some((p) => p.id === 'transport-http' && p.active));
});

test('the built server migrates its database from the compiled migrations, without tsx', async (t) => {
  const dir = scratch(t);
  const migrated = await run(['db', 'migrate', '--json'], ['tsx'], dir);
  t.is(migrated.code, 0, migrated.stderr);
  const applied = JSON.stringify(JSON.parse(migrated.stdout));
  for (const name of ['kernel/0001_tokens_and_audit', 'kernel/0012_site_images', 'ipam-builtin/0001_ip_allocations', 'transport-http/0003_http_dead_letters']) {
    t.true(applied.includes(name), `${name} not applied: ${applied}`);
  }
});

test('without the optional @sprout/registry, `sprout registry start` says how to install it', async (t) => {
  const dir = scratch(t);
  const started = await run(['registry', 'start', '--port', '0', '--data-dir', join(dir, 'data')], ['tsx', '@sprout/registry', 'verdaccio'], dir);
  t.is(started.code, 1);
  t.is(started.stdout, '');
  t.regex(started.stderr, /npm install @sprout\/registry/);
  t.notRegex(started.stderr, /\n\s+at /, 'no stack trace');
});

test('every builtin plugin loads from dist, its agent part included, without tsx', async (t) => {
  const dir = scratch(t);
  // what `sprout server` and `sprout agent run` do with each plugin, by plain Node from the repository
  const script = `
    const { importDefinition } = await import('@sprout/kernel');
    const { discoverPlugins } = await import('@sprout/kernel/discovery');
    const { builtinPlugins } = await import('@sprout/cli/builtin-plugins');
    const loaded = [];
    for (const manifest of discoverPlugins(builtinPlugins, ${JSON.stringify(join(dir, 'none'))}).plugins) {
      const definition = await importDefinition(manifest);
      const part = await definition.agent?.();
      loaded.push({ id: manifest.id, entry: manifest.entry, agent: Object.keys(part ?? {}).sort() });
    }
    console.log(JSON.stringify(loaded));`;
  const child = await new Promise<Run>((resolve) => {
    const p = spawn(process.execPath, ['--import', hide, '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...cleanEnv(), NODE_OPTIONS: '', HIDE_PACKAGES: 'tsx' },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  t.is(child.code, 0, child.stderr);
  const loaded = JSON.parse(child.stdout) as { id: string; entry: string; agent: string[] }[];
  t.true(loaded.length >= 14, `${loaded.length} plugins`);
  for (const plugin of loaded) t.regex(plugin.entry, /\/dist\/index\.js$/, plugin.id);
  const agentOf = (id: string) => loaded.find((p) => p.id === id)?.agent;
  t.deepEqual(agentOf('transport-http'), ['transport']);
  t.deepEqual(agentOf('dhcp-builtin'), ['services', 'settingsChecks']);
  t.deepEqual(agentOf('dns-builtin'), ['services', 'settingsChecks']);
  t.deepEqual(agentOf('power-lab'), ['power']);
});
