/**
 * An agent needs none of the control plane: the agent's entry, the kernel's light SDK
 * (`@sprout/kernel/sdk`) and every builtin plugin's definition and agent part — as the
 * built agent loads them (dist/, plain Node) — must not load the HTTP server, the store,
 * the DI container or prom-client (that one only with `metrics.listen`). Importing one of
 * them again (a plugin's index importing `@sprout/kernel` instead of `/sdk`, an agent
 * module importing a control-plane file) puts ~10–45 MiB back on every idle agent
 * (docs/benchmarks.md, "Startup and memory").
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from '../../test/helpers/processes.ts';

const recorder = fileURLToPath(new URL('./fixtures/record-loads.mjs', import.meta.url));
const agentDir = fileURLToPath(new URL('..', import.meta.url));
const controlPlanePackages = ['fastify', '@fastify/swagger', 'knex', 'pg', '@electric-sql/pglite', 'knex-pglite', 'ajv', 'awilix', 'tapable', 'prom-client'];

/** The packages of `controlPlanePackages` that a plain-Node run of `script` (ES module, run from agent/) loads. */
async function controlPlaneLoadedBy(t: { teardown(fn: () => void): void }, script: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-light-sdk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'loaded.txt');
  // No --conditions=sprout-source and no tsx: the compiled dist/, as `sprout agent run` runs.
  const child = spawn(process.execPath, ['--import', recorder, '--input-type=module', '-e', script], { cwd: agentDir, env: { ...cleanEnv(), NODE_OPTIONS: '', RECORD_LOADS: out } });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the script failed (${code}): ${stderr}`);
  const urls = readFileSync(out, 'utf8').split('\n');
  return controlPlanePackages.filter((name) => urls.some((url) => url.includes(`/node_modules/${name}/`)));
}

test('the kernel main entry loads the control plane (the recorder sees it)', async (t) => {
  const loaded = await controlPlaneLoadedBy(t, `await import('@sprout/kernel');`);
  t.true(loaded.includes('knex'), `loaded: ${loaded.join(', ')}`);
  t.true(loaded.includes('pg'), `loaded: ${loaded.join(', ')}`);
});

test('the agent, the light SDK and every builtin plugin’s agent part load none of the control plane', async (t) => {
  const loaded = await controlPlaneLoadedBy(
    t,
    `
    await import('@sprout/agent');
    const sdk = await import('@sprout/kernel/sdk');
    const { discoverPlugins } = await import('@sprout/kernel/discovery');
    const { builtinPlugins } = await import('@sprout/cli/builtin-plugins');
    const { plugins } = discoverPlugins(builtinPlugins, ${JSON.stringify(join(tmpdir(), 'sprout-no-such-plugin-dir'))});
    if (plugins.length < 10) throw new Error('only ' + plugins.length + ' builtin plugins found');
    for (const manifest of plugins) {
      const definition = await sdk.importDefinition(manifest);
      await definition.agent?.();
    }
    await import('pino');
    `,
  );
  t.deepEqual(loaded, []);
});
