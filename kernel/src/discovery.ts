/**
 * The light part of the kernel (`@sprout/kernel/discovery`): reading config and plugin
 * discovery and planning, without the schema library, server, store or DI. The CLI uses it to list
 * plugins and their commands quickly.
 */
export { readConfig, quickSettings, parseListen, environmentOverrides, type RawConfig, type LoadConfigOptions } from './config/read-config.ts';
export type { SproutConfig } from './config/schema.ts';
export { discoverPlugins } from './plugins/discover.ts';
export { planPlugins, type PluginPlan } from './plugins/plan.ts';
export type { PluginManifest } from './plugins/manifest.ts';
export { kernelCapabilities } from './capabilities/index.ts';
export { adminTokenFile } from './auth/bootstrap-admin.ts';
export { kernelApiVersion, kernelVersion } from './version.ts';
export { inspectPlugins, type PluginStatus } from './plugins/inspect.ts';
export { builtinPluginsOf, packagesIn, resolvePluginPackage } from './plugins/builtins.ts';
export { shareKernelWith, sharedPackages } from './plugins/share-kernel.ts';
export { importPluginModule, runningFromSource } from './plugins/import-module.ts';
