/**
 * The site agent finds the builtin plugins' power drivers the way it finds their
 * transports and services: by discovery of the builtin plugin folder, with nothing to
 * install — the redfish driver among them.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverPlugins } from '@sprout/kernel/discovery';
import { builtinPlugins } from '../src/builtin-plugins.ts';
import { loadAgentParts } from '../src/plugin-parts.ts';

test('loadAgentParts hands the agent the builtin power drivers by bmc.type', async (t) => {
  const pluginDir = mkdtempSync(join(tmpdir(), 'sprout-agent-plugins-'));
  t.teardown(() => rmSync(pluginDir, { recursive: true, force: true }));
  const manifest = discoverPlugins(builtinPlugins, pluginDir).plugins.find((p) => p.id === 'power-redfish');
  t.deepEqual({ builtin: manifest?.builtin, provides: manifest?.provides, packageName: manifest?.packageName }, { builtin: true, provides: ['power'], packageName: '@sprout/plugin-power-redfish' });
  const parts = await loadAgentParts('transport-http', pluginDir);
  t.deepEqual(parts.problems, []);
  t.is(parts.power.get('redfish')?.type, 'redfish');
});
