/**
 * An agent needs none of the control plane: the agent's entry, the kernel's light SDK
 * (`@sprout/kernel/sdk`) and every builtin plugin's agent part — as the built agent loads
 * them (dist/, plain Node) — must not load the HTTP server, the store, the DI container,
 * prom-client (that one only with `metrics.listen`), TypeBox (only to name the problems
 * of a bad document) or the NATS client (only with the NATS transport); and `sprout agent
 * run` loads no other command of the CLI. Importing one of them again (a plugin's index
 * importing `@sprout/kernel` instead of `/sdk`, an agent module importing a control-plane
 * file or a TypeBox schema, a plugin whose agent part is not named in its manifest) puts
 * ~5–45 MiB back on every idle agent (docs/benchmarks.md, "Startup and memory").
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from '@sprout/test-support/processes.ts';

const recorder = fileURLToPath(new URL('./fixtures/record-loads.mjs', import.meta.url));
const agentDir = fileURLToPath(new URL('..', import.meta.url));
const controlPlanePackages = [
  'fastify',
  '@fastify/swagger',
  'knex',
  'pg',
  '@electric-sql/pglite',
  'knex-pglite',
  'ajv',
  'awilix',
  'tapable',
  'prom-client',
  'typebox',
  '@nats-io/transport-node',
];

/** Every module URL a plain-Node run of `script` (ES module, run from agent/) loads (not those it require()s), and its output. */
async function modulesLoadedBy(t: { teardown(fn: () => void): void }, script: string): Promise<string[] & { stdout?: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-light-sdk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'loaded.txt');
  // No --conditions=sprout-source and no tsx: the compiled dist/, as `sprout agent run` runs.
  const child = spawn(process.execPath, ['--import', recorder, '--input-type=module', '-e', script], {
    cwd: agentDir,
    env: { ...cleanEnv(), NODE_OPTIONS: '', RECORD_LOADS: out },
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => (stdout += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the script failed (${code}): ${stderr}`);
  return Object.assign(readFileSync(out, 'utf8').split('\n'), { stdout });
}

/** The packages of `controlPlanePackages` that a plain-Node run of `script` loads. */
async function controlPlaneLoadedBy(t: { teardown(fn: () => void): void }, script: string): Promise<string[]> {
  const urls = await modulesLoadedBy(t, script);
  return controlPlanePackages.filter((name) => urls.some((url) => url.includes(`/node_modules/${name}/`)));
}

test('the kernel main entry loads the control plane (the recorder sees it)', async (t) => {
  const loaded = await controlPlaneLoadedBy(t, `await import('@sprout/kernel');`);
  t.true(loaded.includes('knex'), `loaded: ${loaded.join(', ')}`);
  t.true(loaded.includes('pg'), `loaded: ${loaded.join(', ')}`);
});

test('the agent, the light SDK, every builtin plugin’s agent part and valid contract documents load none of the control plane', async (t) => {
  const loaded = await controlPlaneLoadedBy(
    t,
    `
    await import('@sprout/agent');
    const sdk = await import('@sprout/kernel/sdk');
    const { discoverPlugins } = await import('@sprout/kernel/discovery');
    const { builtinPlugins } = await import('@sprout/cli/builtin-plugins');
    const { plugins } = discoverPlugins(builtinPlugins, ${JSON.stringify(join(tmpdir(), 'sprout-no-such-plugin-dir'))});
    if (plugins.length < 10) throw new Error('only ' + plugins.length + ' builtin plugins found');
    let parts = 0;
    for (const manifest of plugins) if (await sdk.importAgentPart(manifest)) parts += 1;
    if (parts < 5) throw new Error('only ' + parts + ' agent parts');
    await import('pino');
    const { agentConfigProblems, serviceSettingsProblems } = await import('@sprout/agent');
    if (agentConfigProblems({ controlPlane: 'http://127.0.0.1:1', metrics: { listen: '127.0.0.1:9' } }).length) throw new Error('agent.yaml refused');
    await serviceSettingsProblems({ dhcp: {}, tftp: {} }, ${JSON.stringify(join(tmpdir(), 'sprout-no-such-plugin-dir'))});
    const id = '0b0e6f2a-1c3d-4e5f-8a9b-000000000001';
    const state = { revision: 1, site: { id, name: 'a' }, networks: [], reservations: [], bootIntents: [{ machineId: id, hostname: 'n', arch: 'x86_64', bootMode: 'uefi', intent: 'deploy', params: {}, workflow: null, mac: null }], dnsRecords: [] };
    if (sdk.desiredStateProblems(state).length) throw new Error('valid desired state refused');
    if (sdk.reportPayloadProblem('dhcp.lease', { mac: '52:54:00:00:00:01', address: '10.0.0.1', state: 'bound', expiresAt: new Date().toISOString() })) throw new Error('valid report refused');
    `,
  );
  t.deepEqual(loaded, []);
});

test('a bad desired state is still refused by TypeBox, loaded then, naming the field (built, plain Node)', async (t) => {
  const urls = await modulesLoadedBy(
    t,
    `
    const sdk = await import('@sprout/kernel/sdk');
    const problems = sdk.desiredStateProblems({ revision: 1, site: { id: 'nope', name: 'a' }, networks: [], reservations: [], bootIntents: [], dnsRecords: [] });
    console.log(JSON.stringify(problems));
    `,
  );
  // TypeBox's words (the light checker has none): it loaded when needed, through require() of an ES module
  t.deepEqual(JSON.parse(urls.stdout!), ['/site/id must match format "uuid"']);
});

test('`sprout agent run` loads that command alone, none of the CLI’s others', async (t) => {
  const urls = await modulesLoadedBy(
    t,
    `
    const { agentMain } = await import('@sprout/cli/agent-main');
    const code = await agentMain(['agent', 'run', '--help']);
    if (code !== 0) throw new Error('agent run --help exited ' + code);
    `,
  );
  const commands = urls.filter((url) => url.includes('/cli/dist/commands/'));
  t.deepEqual(
    commands.map((url) => url.slice(url.indexOf('/cli/dist/'))),
    ['/cli/dist/commands/agent/run.js'],
  );
  t.false(
    urls.some((url) => url.includes('/node_modules/typebox/')),
    'no TypeBox',
  );
});
