/**
 * Decides, from manifests and config alone, which plugins are active and which one
 * provides each capability, and collects every problem on the way. Runs before any
 * plugin code: nothing here has side effects.
 *
 * Rules: a `one` capability uses the plugin named by `capabilities.<id>.use`; unnamed,
 * the provider whose manifest `"default": "<setting>"` names a setting its config has
 * (`plugins.<id>.<setting>`), else its default provider (manifest `"default": true`),
 * else its only provider. A `many` capability uses every
 * provider. A plugin is active when it provides nothing (a pure extension) or is used
 * for at least one capability it provides.
 */
import semver from 'semver';
import type { Capability } from '../capabilities/define-capability.ts';
import type { SproutConfig } from '../config/schema.ts';
import type { ProblemDetail } from '../errors/index.ts';
import type { PluginManifest } from './manifest.ts';
import { findPlugin, installCommand } from './resolve-name.ts';

export interface PluginPlan {
  /** Active plugins, providers before their consumers. */
  active: PluginManifest[];
  /** Capability id → ids of the plugins serving it. */
  providers: Map<string, string[]>;
  problems: ProblemDetail[];
}

export function planPlugins(input: {
  plugins: PluginManifest[];
  config: Pick<SproutConfig, 'capabilities' | 'pluginDir'> & { plugins?: SproutConfig['plugins'] };
  capabilities: readonly Capability<unknown>[];
  apiVersion: string;
}): PluginPlan {
  const { plugins, config, capabilities, apiVersion } = input;
  const problems: ProblemDetail[] = [];
  const known = new Map(capabilities.map((c) => [c.id, c]));
  const providers = new Map<string, string[]>();

  for (const key of Object.keys(config.capabilities)) {
    if (!known.has(key)) problems.push({ field: `capabilities.${key}`, message: `unknown capability; known: ${[...known.keys()].join(', ')}` });
  }

  for (const capability of capabilities) {
    const offering = plugins.filter((p) => p.provides.includes(capability.id));
    const wanted = config.capabilities[capability.id]?.use;
    if (capability.cardinality === 'many') {
      providers.set(
        capability.id,
        offering.map((p) => p.id),
      );
      continue;
    }
    if (wanted) {
      const plugin = findPlugin(plugins, wanted);
      if (!plugin) {
        problems.push({
          field: `capabilities.${capability.id}.use`,
          message: `plugin "${wanted}" is not installed; install it with: ${installCommand(wanted, config.pluginDir)}`,
          plugin: wanted,
        });
      } else if (!plugin.provides.includes(capability.id)) {
        problems.push({
          field: `capabilities.${capability.id}.use`,
          message: `plugin "${plugin.id}" (${plugin.packageName}) does not provide ${capability.id}; it provides: ${plugin.provides.join(', ') || 'nothing'}`,
        });
      } else providers.set(capability.id, [plugin.id]);
      continue;
    }
    const configured = offering.filter((p) => p.defaultWhenSet !== null && isSet(config.plugins?.[p.id]?.[p.defaultWhenSet]));
    const defaults = offering.filter((p) => p.isDefault);
    const chosen = configured.length > 0 ? configured : defaults.length > 0 ? defaults : offering;
    if (chosen.length > 1) {
      problems.push({
        field: `capabilities.${capability.id}`,
        message: `${chosen.length} plugins provide "${capability.id}" (${chosen.map((p) => p.id).join(', ')}) but it takes one; choose with capabilities.${capability.id}.use`,
      });
    }
    providers.set(capability.id, chosen.length === 1 ? [chosen[0].id] : []);
  }

  for (const plugin of plugins) {
    for (const id of plugin.provides) {
      if (!known.has(id)) problems.push({ field: plugin.packageName, message: `provides unknown capability "${id}"` });
    }
  }

  const used = new Set([...providers.values()].flat());
  const active = plugins.filter((p) => p.provides.length === 0 || used.has(p.id));

  for (const plugin of active) {
    if (!semver.validRange(plugin.apiVersion) || !semver.satisfies(apiVersion, plugin.apiVersion)) {
      problems.push({
        field: plugin.packageName,
        message: `needs kernel API ${plugin.apiVersion}, this kernel offers ${apiVersion}; install a version of the plugin built for ${semver.major(apiVersion)}.x`,
      });
    }
    for (const id of plugin.consumes) {
      if (!providers.get(id)?.length) {
        problems.push({ field: plugin.packageName, message: `consumes "${id}" but no active plugin provides it` });
      }
    }
  }

  return { active: orderByDependencies(active, providers, problems), providers, problems };
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

/** Providers first: a plugin comes after every plugin providing what it consumes. */
function orderByDependencies(active: PluginManifest[], providers: Map<string, string[]>, problems: ProblemDetail[]): PluginManifest[] {
  const byId = new Map(active.map((p) => [p.id, p]));
  const ordered: PluginManifest[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (plugin: PluginManifest, trail: string[]): void => {
    const s = state.get(plugin.id);
    if (s === 'done') return;
    if (s === 'visiting') {
      problems.push({ field: plugin.packageName, message: `dependency cycle: ${[...trail, plugin.id].join(' → ')}` });
      return;
    }
    state.set(plugin.id, 'visiting');
    for (const capability of plugin.consumes) {
      for (const providerId of providers.get(capability) ?? []) {
        const provider = byId.get(providerId);
        if (provider && provider.id !== plugin.id) visit(provider, [...trail, plugin.id]);
      }
    }
    state.set(plugin.id, 'done');
    ordered.push(plugin);
  };
  for (const plugin of active) visit(plugin, []);
  return ordered;
}
