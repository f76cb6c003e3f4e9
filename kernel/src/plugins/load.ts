/**
 * Loads the planned plugins' entries and checks them against their manifests and their
 * config schemas. Importing an entry must not have side effects (definePlugin is a
 * declaration); problems are collected, never thrown one by one.
 */
import { Value } from 'typebox/value';
import type { SproutConfig } from '../config/schema.ts';
import { schemaProblems } from '../config/schema-errors.ts';
import { SproutError, type ProblemDetail } from '../errors/index.ts';
import type { PluginDefinition } from './define-plugin.ts';
import type { PluginManifest } from './manifest.ts';
import type { PluginPlan } from './plan.ts';
import { importDefinition } from './import-definition.ts';

export { importDefinition };

export interface LoadedPlugin {
  manifest: PluginManifest;
  definition: PluginDefinition;
  config: Record<string, unknown>;
}

export async function loadPlugins(plan: PluginPlan, config: Pick<SproutConfig, 'plugins'>): Promise<LoadedPlugin[]> {
  const problems: ProblemDetail[] = [...plan.problems];
  const loaded: LoadedPlugin[] = [];
  for (const manifest of plan.active) {
    let definition: PluginDefinition;
    try {
      definition = await importDefinition(manifest);
    } catch (err) {
      problems.push({ field: manifest.packageName, message: `cannot be loaded: ${(err as Error).message}` });
      continue;
    }
    let pluginConfig = structuredClone(config.plugins[manifest.id] ?? {});
    if (definition.configSchema) {
      pluginConfig = Value.Default(definition.configSchema, pluginConfig) as Record<string, unknown>;
      problems.push(...schemaProblems(definition.configSchema, pluginConfig, `plugins.${manifest.id}`));
    }
    loaded.push({ manifest, definition, config: pluginConfig });
  }
  throwIfProblems(problems);
  return loaded;
}

export function throwIfProblems(problems: ProblemDetail[]): void {
  if (problems.length === 0) return;
  throw new SproutError('SPROUT_ERR_PLUGIN_VALIDATION', `Sprout cannot start: ${problems.length} plugin problem${problems.length > 1 ? 's' : ''}`, {
    details: problems,
  });
}
