/**
 * Environment variables a plugin declares in its manifest (`"env": { "SPROUT_ACME_URL":
 * "url" }`) set its settings, `plugins.<id>.<setting>`, over the config file's, as the
 * kernel's own variables do for its keys (read-config.ts). Applied after discovery, since
 * only the manifests know them.
 */
import type { SproutConfig } from '../config/schema.ts';
import type { PluginManifest } from './manifest.ts';

export function withPluginEnvironment<C extends { plugins?: SproutConfig['plugins'] }>(
  config: C,
  plugins: readonly PluginManifest[],
  env: NodeJS.ProcessEnv,
): C {
  let merged: SproutConfig['plugins'] | undefined;
  for (const manifest of plugins) {
    for (const [variable, setting] of Object.entries(manifest.env)) {
      const value = env[variable];
      if (value === undefined || value === '') continue;
      merged ??= { ...(config.plugins ?? {}) };
      merged[manifest.id] = { ...(merged[manifest.id] ?? {}), [setting]: value };
    }
  }
  return merged ? { ...config, plugins: merged } : config;
}
