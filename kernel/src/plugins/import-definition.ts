/**
 * Imports one plugin's entry and checks it is the definePlugin declaration its manifest
 * names. Light (no schema library): the agent loads plugins through it.
 */
import { isPluginDefinition, type AgentPart, type PluginDefinition } from './define-plugin.ts';
import type { PluginManifest } from './manifest.ts';
import { importPluginModule } from './import-module.ts';

export async function importDefinition(manifest: PluginManifest): Promise<PluginDefinition> {
  const mod = await importPluginModule(manifest.entry, manifest.dir, manifest.builtin);
  const definition = mod.default ?? mod.plugin;
  if (!isPluginDefinition(definition)) {
    throw new Error(`entry ${manifest.entry} must export default definePlugin({...})`);
  }
  if (definition.id !== manifest.id) {
    throw new Error(`definePlugin id "${definition.id}" differs from the manifest's "${manifest.id}"`);
  }
  return definition;
}

/**
 * A plugin's agent part, as the site agent loads it: from the manifest's `"agent"` module
 * when it names one (the plugin's entry, with its config schema and control-plane side,
 * is never loaded), none when it says `"agent": false`, else through the entry's `agent()`.
 */
export async function importAgentPart(manifest: PluginManifest): Promise<AgentPart | undefined> {
  if (manifest.agent === false) return undefined;
  if (manifest.agent === null) return (await importDefinition(manifest)).agent?.();
  const part = (await importPluginModule(manifest.agent, manifest.dir, manifest.builtin)).default;
  if (typeof part !== 'object' || part === null)
    throw new Error(`agent module ${manifest.agent} must export default the plugin's agent part ({ transport, tasks, services, power })`);
  return part as AgentPart;
}
