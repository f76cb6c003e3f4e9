/**
 * The site agent finds the builtin plugins' power drivers the way it finds their
 * transports and services: by discovery of the builtin plugin folder, with nothing to
 * install — the redfish driver among them.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoverPlugins, packagesIn } from '@sprout/kernel/discovery';
import { importAgentPart, importDefinition } from '@sprout/kernel/sdk';
import { builtinPlugins } from '../src/builtin-plugins.ts';
import { loadAgentParts } from '../src/plugin-parts.ts';

test('loadAgentParts hands the agent the builtin power drivers by bmc.type', async (t) => {
  const pluginDir = mkdtempSync(join(tmpdir(), 'sprout-agent-plugins-'));
  t.teardown(() => rmSync(pluginDir, { recursive: true, force: true }));
  const manifest = discoverPlugins(builtinPlugins, pluginDir).plugins.find((p) => p.id === 'power-redfish');
  t.deepEqual(
    { builtin: manifest?.builtin, provides: manifest?.provides, packageName: manifest?.packageName },
    { builtin: true, provides: ['power'], packageName: '@sprout/plugin-power-redfish' },
  );
  const parts = await loadAgentParts('transport-http', pluginDir);
  t.deepEqual(parts.problems, []);
  t.is(parts.power.get('redfish')?.type, 'redfish');
});

test('a builtin plugin’s manifest "agent" names the same agent part its definition gives, or false when it has none', async (t) => {
  const pluginDir = mkdtempSync(join(tmpdir(), 'sprout-agent-plugins-'));
  t.teardown(() => rmSync(pluginDir, { recursive: true, force: true }));
  // Every plugin of the repo, not only those the agent ships (it leaves out those with `"agent": false`).
  const { plugins } = discoverPlugins(packagesIn(fileURLToPath(new URL('../../plugins', import.meta.url))), pluginDir);
  const declared = plugins.filter((m) => m.agent !== null);
  // The agent's own builtin plugins are exactly those with an agent part.
  const agentBuiltins = discoverPlugins(builtinPlugins, pluginDir)
    .plugins.map((m) => m.id)
    .sort();
  const withPart: string[] = [];
  for (const manifest of plugins) if (manifest.agent !== false && (await importAgentPart(manifest))) withPart.push(manifest.id);
  t.deepEqual(agentBuiltins, withPart.sort());
  // the plugins whose entry loads TypeBox (a config schema) must name their agent part, or say they have none
  t.deepEqual(declared.map((m) => m.id).sort(), [
    'allocation-builtin',
    'hwtest-builtin',
    'ipam-builtin',
    'kea-stub',
    'netbox-stub',
    'powerdns-stub',
    'transport-http',
    'transport-nats',
  ]);
  for (const manifest of declared) {
    const fromDefinition = await (await importDefinition(manifest)).agent?.();
    t.is(await importAgentPart(manifest), fromDefinition, manifest.id);
  }
  t.truthy((await importAgentPart(plugins.find((m) => m.id === 'transport-nats')!))?.transport);
  t.is(await importAgentPart(plugins.find((m) => m.id === 'kea-stub')!), undefined);
});
