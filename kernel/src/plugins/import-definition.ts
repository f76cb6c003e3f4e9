/**
 * Imports one plugin's entry and checks it is the definePlugin declaration its manifest
 * names. Light (no schema library): the agent loads plugins through it.
 */
import { isPluginDefinition, type PluginDefinition } from './define-plugin.ts';
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
