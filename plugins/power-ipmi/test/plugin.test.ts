/**
 * The plugin is found like every builtin: by the control plane (active for `power`, with
 * the `ipmi` bmc.type and its address check) and by the site agent (the `ipmi` driver).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { importDefinition, powerCapability, type PluginContext, type PowerDriverInfo } from '@sprout/kernel';
import { discoverPlugins, inspectPlugins, resolvePluginPackage } from '@sprout/kernel/discovery';

/** This package as a builtin plugin, found by its name as the CLI finds it. */
const builtinPlugins = [resolvePluginPackage('@sprout/plugin-power-ipmi', import.meta.url)];
import { loadAgentParts } from '../../../agent/src/plugin-parts.ts';

test('the control plane finds power-ipmi as an active builtin power provider', (t) => {
  const { plugins, problems } = inspectPlugins({ pluginDir: '/nonexistent-plugin-dir', capabilities: {} }, builtinPlugins);
  t.deepEqual(problems, []);
  t.like(
    plugins.find((p) => p.id === 'power-ipmi'),
    { builtin: true, active: true, provides: ['power'], packageName: '@sprout/plugin-power-ipmi' },
  );
});

test('its setup provides the ipmi bmc.type, which needs an address and checks it', async (t) => {
  const manifest = discoverPlugins(builtinPlugins, '/nonexistent-plugin-dir').plugins.find((p) => p.id === 'power-ipmi')!;
  const definition = await importDefinition(manifest);
  const provided: Array<[unknown, () => unknown]> = [];
  await definition.setup?.({ provide: (capability: unknown, factory: () => unknown) => provided.push([capability, factory]) } as unknown as PluginContext);
  t.is(provided.length, 1);
  t.is(provided[0][0], powerCapability);
  const info = (await provided[0][1]()) as PowerDriverInfo;
  t.like(info, { type: 'ipmi', needsAddress: true });
  t.is(info.checkAddress?.('10.0.0.5:623'), undefined);
  t.regex(info.checkAddress?.('http://10.0.0.5') ?? '', /host or host:port/);
});

test('the site agent loads the ipmi driver from it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-plugins-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const parts = await loadAgentParts('transport-http', dir);
  t.deepEqual(parts.problems, []);
  t.is(parts.power.get('ipmi')?.type, 'ipmi');
  t.is(typeof parts.power.get('ipmi')?.setNextBoot, 'function');
});
