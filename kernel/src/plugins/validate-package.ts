/**
 * Checks one installed plugin package the way boot would, before an operator relies on
 * it (`sprout plugin install`): its manifest, the plan with it in place (API version,
 * capabilities, consumes, id clashes, the provider choice), its entry (definePlugin with
 * the manifest's id) and its config against its schema. Returns every problem that
 * concerns the package; never runs its `setup`.
 */
import { Value } from 'typebox/value';
import { kernelCapabilities } from '../capabilities/index.ts';
import { schemaProblems } from '../config/schema-errors.ts';
import type { SproutConfig } from '../config/schema.ts';
import type { ProblemDetail } from '../errors/index.ts';
import { kernelApiVersion } from '../version.ts';
import { discoverPlugins } from './discover.ts';
import { importDefinition } from './load.ts';
import { importAgentPart } from './import-definition.ts';
import type { PluginManifest } from './manifest.ts';
import { planPlugins } from './plan.ts';
import { withPluginEnvironment } from './plugin-env.ts';

export interface PackageValidation {
  manifest?: PluginManifest;
  problems: ProblemDetail[];
  /** Capabilities of cardinality `one` it provides: they need `capabilities.<id>.use` to be active. */
  needsChoice: string[];
  /** Whether boot would make it active with this config. */
  active: boolean;
}

export async function validatePluginPackage(
  given: Pick<SproutConfig, 'pluginDir' | 'capabilities' | 'plugins'>,
  packageName: string,
  builtins: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Promise<PackageValidation> {
  const discovery = discoverPlugins(builtins, given.pluginDir);
  const config = withPluginEnvironment(given, discovery.plugins, env);
  const mentions = (p: ProblemDetail) => Boolean(p.field?.startsWith(packageName) || p.message.includes(packageName));
  const problems = discovery.problems.filter(mentions);
  const manifest = discovery.plugins.find((p) => p.packageName === packageName && !p.builtin);
  if (!manifest) {
    if (problems.length === 0) problems.push({ field: packageName, message: 'is not a Sprout plugin: its package.json has no "sprout" manifest' });
    return { problems, needsChoice: [], active: false };
  }
  const concerns = (p: ProblemDetail) => mentions(p) || p.plugin === manifest.id || new RegExp(`"${manifest.id}"|\\b${manifest.id}\\b \\(`).test(p.message);
  const plan = planPlugins({ plugins: discovery.plugins, config, capabilities: kernelCapabilities, apiVersion: kernelApiVersion });
  problems.push(...plan.problems.filter(concerns));
  try {
    const definition = await importDefinition(manifest);
    if (definition.configSchema) {
      const pluginConfig = Value.Default(definition.configSchema, structuredClone(config.plugins[manifest.id] ?? {}));
      problems.push(...schemaProblems(definition.configSchema, pluginConfig, `plugins.${manifest.id}`));
    }
    // What an agent loads instead of the entry must be what the entry says.
    if (manifest.agent === false && definition.agent) {
      problems.push({
        field: `${packageName} (package.json "sprout").agent`,
        message: 'is false, but the definition has an agent part: an agent would never load it',
      });
    } else if (typeof manifest.agent === 'string') {
      const part = await importAgentPart(manifest);
      if (!definition.agent)
        problems.push({ field: `${packageName} (package.json "sprout").agent`, message: 'names an agent part, but the definition has no agent()' });
      else if ((await definition.agent()) !== part)
        problems.push({
          field: `${packageName} (package.json "sprout").agent`,
          message: "names a module whose default export is not the part the definition's agent() returns",
        });
    }
  } catch (err) {
    problems.push({ field: packageName, message: `cannot be loaded: ${(err as Error).message}` });
  }
  const needsChoice = manifest.provides.filter((id) => kernelCapabilities.find((c) => c.id === id)?.cardinality === 'one');
  return { manifest, problems, needsChoice, active: plan.active.some((p) => p.id === manifest.id) };
}
