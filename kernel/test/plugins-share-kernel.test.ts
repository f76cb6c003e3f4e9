/**
 * A plugin installed outside the Sprout installation, with its own (decoy) copies of
 * @sprout/kernel and typebox in its node_modules, still gets the kernel that loads it:
 * its definePlugin is recognised and the capability ref it provides is the kernel's.
 */
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hwtestCapability, importDefinition, type PluginManifest } from '@sprout/kernel';
import { discoverPlugins } from '@sprout/kernel/discovery';

function write(file: string, text: string): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
}

function decoy(dir: string, name: string): void {
  write(join(dir, name, 'package.json'), JSON.stringify({ name, version: '9.9.9', type: 'module', exports: { '.': './index.js', './*': './index.js' } }));
  write(join(dir, name, 'index.js'), `throw new Error('the decoy ${name} in the plugin directory was imported');\n`);
}

test('a third-party plugin resolves @sprout/kernel and typebox from the installation, not from its own node_modules', async (t) => {
  const pluginDir = mkdtempSync(join(tmpdir(), 'sprout-share-'));
  t.teardown(() => rmSync(pluginDir, { recursive: true, force: true }));
  const pkg = join(pluginDir, 'node_modules', '@acme', 'sprout-plugin-probe');
  write(
    join(pkg, 'package.json'),
    JSON.stringify({
      name: '@acme/sprout-plugin-probe',
      version: '1.0.0',
      type: 'module',
      exports: { '.': './src/index.ts' },
      sprout: { id: 'probe', provides: ['hwtest'], apiVersion: '^1.0.0' },
      peerDependencies: { '@sprout/kernel': '*', typebox: '*' },
    }),
  );
  write(
    join(pkg, 'src', 'index.ts'),
    [
      "import Type from 'typebox';",
      "import { Value } from 'typebox/value';",
      "import { definePlugin, hwtestCapability } from '@sprout/kernel';",
      'export const capability = hwtestCapability;',
      'export const schemaWorks = Value.Check(Type.Object({ n: Type.Integer() }), { n: 1 });',
      "export default definePlugin({ id: 'probe', setup(ctx) { ctx.provide(hwtestCapability, () => ({ catalogue: () => [], judge: (r) => r })); } });",
      '',
    ].join('\n'),
  );
  // what npm would have put there had the peers been installed
  decoy(join(pluginDir, 'node_modules'), '@sprout/kernel');
  decoy(join(pluginDir, 'node_modules'), 'typebox');
  decoy(join(pkg, 'node_modules'), 'typebox');

  const { plugins, problems } = discoverPlugins([], pluginDir);
  t.deepEqual(problems, []);
  const manifest = plugins.find((p) => p.id === 'probe') as PluginManifest;
  const definition = await importDefinition(manifest);
  t.is(definition.id, 'probe');
  const mod = await import(new URL(`file://${manifest.entry}`).href);
  t.is(mod.capability, hwtestCapability, 'one copy of the kernel: the capability ref is identical');
  t.true(mod.schemaWorks);
});
