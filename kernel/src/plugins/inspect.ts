/**
 * What is installed and what would be active, from manifests and config alone: the
 * view `sprout plugin list` prints and the first step of every boot.
 */
import { kernelCapabilities } from '../capabilities/index.ts';
import type { SproutConfig } from '../config/schema.ts';
import { kernelApiVersion } from '../version.ts';
import { discoverPlugins } from './discover.ts';
import { planPlugins, type PluginPlan } from './plan.ts';
import { withPluginEnvironment } from './plugin-env.ts';

export interface PluginStatus {
  id: string;
  packageName: string;
  version: string;
  description: string;
  builtin: boolean;
  active: boolean;
  provides: string[];
  consumes: string[];
  /** Capabilities this plugin is the active provider of. */
  activeFor: string[];
  dir: string;
  /** Module of CLI commands the plugin contributes, if any. */
  commands: string | null;
}

/**
 * Discovery and planning only: what `sprout plugin list` shows without booting.
 * `builtins` are the builtin plugins' package folders (builtinPluginsOf); `env` sets the
 * plugin settings their manifests map variables to, and `config` comes back with them.
 */
export function inspectPlugins<C extends Pick<SproutConfig, 'pluginDir' | 'capabilities'> & { plugins?: SproutConfig['plugins'] }>(
  given: C,
  builtins: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): { plan: PluginPlan; plugins: PluginStatus[]; problems: PluginPlan['problems']; config: C } {
  const discovery = discoverPlugins(builtins, given.pluginDir);
  const config = withPluginEnvironment(given, discovery.plugins, env);
  const plan = planPlugins({ plugins: discovery.plugins, config, capabilities: kernelCapabilities, apiVersion: kernelApiVersion });
  plan.problems.unshift(...discovery.problems);
  const active = new Set(plan.active.map((p) => p.id));
  const plugins = discovery.plugins.map((m) => ({
    id: m.id,
    packageName: m.packageName,
    version: m.version,
    description: m.description,
    builtin: m.builtin,
    active: active.has(m.id),
    provides: m.provides,
    consumes: m.consumes,
    activeFor: [...plan.providers].filter(([, ids]) => ids.includes(m.id)).map(([cap]) => cap),
    dir: m.dir,
    commands: m.commands,
  }));
  return { plan, plugins, problems: plan.problems, config };
}
