/**
 * Finds plugin packages: the builtin ones (package folders the caller resolved, see
 * builtins.ts) and the ones installed with npm into the plugin directory
 * (`<pluginDir>/node_modules`). Reads manifests only.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ProblemDetail } from '../errors/index.ts';
import { readManifest, type PluginManifest } from './manifest.ts';

export interface Discovery {
  plugins: PluginManifest[];
  problems: ProblemDetail[];
}

export function discoverPlugins(builtins: readonly string[], pluginDir: string): Discovery {
  const found: Discovery = { plugins: [], problems: [] };
  for (const dir of builtins) collect(found, dir, true);
  const modules = join(pluginDir, 'node_modules');
  for (const dir of childDirs(modules)) {
    const name = dir.slice(modules.length + 1);
    if (name.startsWith('.')) continue;
    if (name.startsWith('@')) for (const scoped of childDirs(dir)) collect(found, scoped, false);
    else collect(found, dir, false);
  }
  const byId = new Map<string, PluginManifest>();
  for (const plugin of found.plugins) {
    const other = byId.get(plugin.id);
    if (other) {
      found.problems.push({
        field: plugin.packageName,
        message: `declares plugin id "${plugin.id}", already taken by ${other.packageName} (${other.dir})`,
      });
    } else byId.set(plugin.id, plugin);
  }
  found.plugins = [...byId.values()];
  return found;
}

function collect(found: Discovery, dir: string, builtin: boolean): void {
  const read = readManifest(dir, builtin);
  if (!read) return;
  found.problems.push(...read.problems);
  if (read.manifest) found.plugins.push(read.manifest);
}

function childDirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() || e.isSymbolicLink())
    .map((e) => join(dir, e.name))
    .sort();
}
