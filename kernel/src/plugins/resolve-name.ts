/**
 * How config names a plugin: a short id (`netbox-stub`) means the plugin with that id or
 * the package `@sprout/plugin-netbox-stub`; a scoped name (`@acme/sprout-plugin-x`) is
 * the package as written; an unscoped package name (`sprout-plugin-x`) that is no id is
 * the package as written too.
 */
import type { PluginManifest } from './manifest.ts';

export function packageNameFor(name: string): string {
  return name.startsWith('@') ? name : `@sprout/plugin-${name}`;
}

export function findPlugin(plugins: PluginManifest[], name: string): PluginManifest | undefined {
  const pkg = packageNameFor(name);
  return (
    plugins.find((p) => p.packageName === pkg) ??
    (name.startsWith('@') ? undefined : (plugins.find((p) => p.id === name) ?? plugins.find((p) => p.packageName === name)))
  );
}

export function installCommand(name: string, pluginDir: string): string {
  return `npm install --prefix ${pluginDir} ${packageNameFor(name)}`;
}
