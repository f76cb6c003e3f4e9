/**
 * `validatePluginPackage`, what `sprout plugin install` runs on a freshly installed
 * package: every problem of that package (manifest, plan, entry, config schema), none
 * of the others', and whether it needs a `use:` choice to become active.
 */
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validatePluginPackage } from '@sprout/kernel';

function pluginDir(t: { teardown(fn: () => void): void }, packages: Record<string, { manifest: Record<string, unknown>; entry: string }>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-validate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, { manifest, entry }] of Object.entries(packages)) {
    const pkg = join(dir, 'node_modules', name);
    mkdirSync(pkg, { recursive: true });
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({ name, version: '1.0.0', type: 'module', exports: './index.ts', sprout: { apiVersion: '^1.0.0', ...manifest } }),
    );
    writeFileSync(join(pkg, 'index.ts'), entry);
  }
  return dir;
}

const config = (dir: string, extra: { capabilities?: Record<string, { use: string }>; plugins?: Record<string, Record<string, unknown>> } = {}) => ({
  pluginDir: dir,
  capabilities: extra.capabilities ?? {},
  plugins: extra.plugins ?? {},
});

const hwtestEntry = (id: string) => `import Type from 'typebox';
import { definePlugin, hwtestCapability } from '@sprout/kernel';
export default definePlugin({ id: '${id}', configSchema: Type.Object({ minutes: Type.Integer({ minimum: 1, default: 5 }) }, { additionalProperties: false }),
  setup(ctx) { ctx.provide(hwtestCapability, () => ({ catalogue: () => [], judge: (r) => r })); } });
`;

test('a sound hardware-test plugin has no problems and is active without a choice', async (t) => {
  const dir = pluginDir(t, { 'sprout-plugin-soak': { manifest: { id: 'soak', provides: ['hwtest'] }, entry: hwtestEntry('soak') } });
  const checked = await validatePluginPackage(config(dir), 'sprout-plugin-soak');
  t.deepEqual(checked.problems, []);
  t.true(checked.active);
  t.deepEqual(checked.needsChoice, []);
});

test("config failing the schema, an id mismatch and unknown capabilities are all named; other packages' problems are not", async (t) => {
  const dir = pluginDir(t, {
    'sprout-plugin-soak': { manifest: { id: 'soak', provides: ['hwtest'] }, entry: hwtestEntry('soak') },
    'sprout-plugin-liar': { manifest: { id: 'liar', provides: ['hwtest', 'teleport'] }, entry: hwtestEntry('someone-else') },
    'sprout-plugin-other': { manifest: { id: 'other', consumes: ['warp'] }, entry: 'export default {};\n' },
  });
  const soak = await validatePluginPackage(config(dir, { plugins: { soak: { minutes: 0, colour: 'red' } } }), 'sprout-plugin-soak');
  t.deepEqual(soak.problems.map((p) => p.field).sort(), ['plugins.soak.colour', 'plugins.soak.minutes']);
  const liar = await validatePluginPackage(config(dir), 'sprout-plugin-liar');
  const text = liar.problems.map((p) => `${p.field}: ${p.message}`).join('\n');
  t.regex(text, /provides unknown capability "teleport"/);
  t.regex(text, /definePlugin id "someone-else" differs from the manifest's "liar"/);
  t.notRegex(text, /warp/, "the other package's problem is not this one's");
});

test('a provider of a one-capability needs a choice; with it, it is active', async (t) => {
  const entry = `import { definePlugin, dnsCapability } from '@sprout/kernel';
export default definePlugin({ id: 'memdns', setup(ctx) { ctx.provide(dnsCapability, () => ({ upsertRecords: async () => {}, removeRecords: async () => {}, listRecords: async () => [] })); } });
`;
  const dir = pluginDir(t, { 'sprout-plugin-memdns': { manifest: { id: 'memdns', provides: ['dns'] }, entry } });
  // a builtin default dns provider, as dns-builtin is for the CLI
  const builtins = [
    join(pluginDir(t, { 'dns-default': { manifest: { id: 'dns-default', provides: ['dns'], default: true }, entry: '' } }), 'node_modules', 'dns-default'),
  ];
  const alone = await validatePluginPackage(config(dir), 'sprout-plugin-memdns', builtins);
  t.deepEqual(alone.needsChoice, ['dns']);
  t.false(alone.active);
  t.deepEqual(alone.problems, []);
  const chosen = await validatePluginPackage(config(dir, { capabilities: { dns: { use: 'memdns' } } }), 'sprout-plugin-memdns', builtins);
  t.true(chosen.active);
  t.deepEqual(chosen.problems, []);
});

test('a package without a sprout manifest is not a plugin', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-validate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'node_modules', 'left-pad'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'left-pad', 'package.json'), JSON.stringify({ name: 'left-pad', version: '1.3.0' }));
  const checked = await validatePluginPackage(config(dir), 'left-pad');
  t.deepEqual(checked.problems, [{ field: 'left-pad', message: 'is not a Sprout plugin: its package.json has no "sprout" manifest' }]);
});

test('a manifest "agent" that disagrees with the definition is named; one that agrees passes', async (t) => {
  const withAgent = `import { definePlugin } from '@sprout/kernel/sdk';
export default definePlugin({ id: 'tasks', agent: async () => (await import('./agent-part.ts')).default });
`;
  const dir = pluginDir(t, {
    'sprout-plugin-tasks': { manifest: { id: 'tasks', agent: './agent-part.ts' }, entry: withAgent },
    'sprout-plugin-liar': { manifest: { id: 'liar', agent: false }, entry: withAgent.replace("'tasks'", "'liar'") },
    'sprout-plugin-other': {
      manifest: { id: 'other', agent: './agent-part.ts' },
      entry: withAgent.replace("'tasks'", "'other'").replace(/, agent: .*\}\);/, ' });'),
    },
  });
  for (const name of ['sprout-plugin-tasks', 'sprout-plugin-liar', 'sprout-plugin-other']) {
    writeFileSync(join(dir, 'node_modules', name, 'agent-part.ts'), `export default { tasks: { noop: async () => ({}) } };\n`);
  }
  t.deepEqual((await validatePluginPackage(config(dir), 'sprout-plugin-tasks')).problems, []);
  t.deepEqual((await validatePluginPackage(config(dir), 'sprout-plugin-liar')).problems, [
    { field: 'sprout-plugin-liar (package.json "sprout").agent', message: 'is false, but the definition has an agent part: an agent would never load it' },
  ]);
  t.deepEqual((await validatePluginPackage(config(dir), 'sprout-plugin-other')).problems, [
    { field: 'sprout-plugin-other (package.json "sprout").agent', message: 'names an agent part, but the definition has no agent()' },
  ]);
});
