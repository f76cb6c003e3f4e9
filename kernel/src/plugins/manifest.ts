/**
 * A plugin's manifest is the `"sprout"` field of its package.json. Reading one never
 * runs plugin code: discovery, `sprout plugin list` and boot validation start here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProblemDetail } from '../errors/index.ts';
import { runningFromSource } from './import-module.ts';

export interface PluginManifest {
  id: string;
  packageName: string;
  version: string;
  description: string;
  /** Package folder. */
  dir: string;
  /** Absolute path of the module exporting `definePlugin(...)`. */
  entry: string;
  provides: string[];
  consumes: string[];
  /** semver range of kernel API versions the plugin works with. */
  apiVersion: string;
  /** A builtin: a dependency of the package that loads plugins (builtins.ts), not installed into the plugin directory. */
  builtin: boolean;
  /** Used for its capabilities when config selects no provider (`"default": true`). */
  isDefault: boolean;
  /**
   * `"default": "<setting>"`: used for its capabilities when config selects no provider and
   * `plugins.<id>.<setting>` is set (a broker transport when it has its URL), before any `"default": true`.
   */
  defaultWhenSet: string | null;
  /** `"env": { "SPROUT_X": "<setting>" }`: environment variables that set `plugins.<id>.<setting>`. */
  env: Record<string, string>;
  /**
   * `"movedSettings": { "<old.kernel.key>": "<setting>" }`: keys of the kernel's config an
   * older Sprout read that are now `plugins.<id>.<setting>`. A config that still sets one
   * is refused at load naming where it went (load-config.ts).
   */
  movedSettings: Record<string, string>;
  /** Absolute path of the module whose default export lists its CLI commands (`"commands"`). */
  commands: string | null;
  /**
   * The plugin's agent part (`"agent"`): the absolute path of a module whose default export
   * is the AgentPart, so the site agent loads it without the plugin's entry (its config
   * schema, its control-plane side); false when the plugin has none, so the agent skips it;
   * null when undeclared: the agent imports the entry and calls its `agent()`.
   */
  agent: string | false | null;
}

const idPattern = /^[a-z][a-z0-9-]*$/;
const settingPattern = /^[A-Za-z][A-Za-z0-9]*$/;
const envPattern = /^SPROUT_[A-Z0-9_]+$/;
const movedKeyPattern = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/;

/** Reads `dir/package.json`; returns null when it is not a Sprout plugin at all. */
export function readManifest(dir: string, builtin: boolean): { manifest?: PluginManifest; problems: ProblemDetail[] } | null {
  let pkg: any;
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  } catch {
    return null;
  }
  if (!pkg || typeof pkg.sprout !== 'object' || pkg.sprout === null) return null;
  const s = pkg.sprout;
  const where = `${pkg.name ?? dir} (package.json "sprout")`;
  const problems: ProblemDetail[] = [];
  if (typeof s.id !== 'string' || !idPattern.test(s.id)) problems.push({ field: `${where}.id`, message: 'must be a lowercase id like "ipam-builtin"' });
  for (const key of ['provides', 'consumes'] as const) {
    if (s[key] !== undefined && !(Array.isArray(s[key]) && s[key].every((c: unknown) => typeof c === 'string'))) {
      problems.push({ field: `${where}.${key}`, message: 'must be a list of capability ids' });
    }
  }
  if (s.default !== undefined && typeof s.default !== 'boolean' && !(typeof s.default === 'string' && settingPattern.test(s.default))) {
    problems.push({
      field: `${where}.default`,
      message: "must be true, false or the name of one of the plugin's settings (the default when that setting is set)",
    });
  }
  if (
    s.env !== undefined &&
    !(
      typeof s.env === 'object' &&
      s.env !== null &&
      !Array.isArray(s.env) &&
      Object.entries(s.env).every(([k, v]) => envPattern.test(k) && typeof v === 'string' && settingPattern.test(v))
    )
  ) {
    problems.push({ field: `${where}.env`, message: "must map environment variable names (SPROUT_…) to names of the plugin's settings" });
  }
  if (
    s.movedSettings !== undefined &&
    !(
      typeof s.movedSettings === 'object' &&
      s.movedSettings !== null &&
      !Array.isArray(s.movedSettings) &&
      Object.entries(s.movedSettings).every(([k, v]) => movedKeyPattern.test(k) && typeof v === 'string' && settingPattern.test(v))
    )
  ) {
    problems.push({ field: `${where}.movedSettings`, message: "must map keys of the kernel's config (section.key) to names of the plugin's settings" });
  }
  const commands = s.commands === undefined ? undefined : pathFor(s.commands);
  if (s.commands !== undefined && commands === undefined)
    problems.push({ field: `${where}.commands`, message: 'must be the path of a module exporting the command classes' });
  const agent = s.agent === undefined || s.agent === false ? undefined : pathFor(s.agent);
  if (s.agent !== undefined && s.agent !== false && agent === undefined)
    problems.push({ field: `${where}.agent`, message: "must be false or the path of a module whose default export is the plugin's agent part" });
  if (typeof s.apiVersion !== 'string')
    problems.push({ field: `${where}.apiVersion`, message: 'must be a semver range of kernel API versions, e.g. "^1.0.0"' });
  const entryFile = entryOf(pkg);
  if (!entryFile) problems.push({ field: `${pkg.name ?? dir} (package.json)`, message: 'has no "exports" or "main" entry' });
  if (problems.length > 0) return { problems };
  return {
    problems,
    manifest: {
      id: s.id,
      packageName: pkg.name,
      version: pkg.version ?? '0.0.0',
      description: pkg.description ?? '',
      dir,
      entry: join(dir, entryFile!),
      provides: s.provides ?? [],
      consumes: s.consumes ?? [],
      apiVersion: s.apiVersion,
      builtin,
      isDefault: s.default === true,
      defaultWhenSet: typeof s.default === 'string' ? s.default : null,
      env: { ...(s.env ?? {}) },
      movedSettings: { ...(s.movedSettings ?? {}) },
      commands: commands ? join(dir, commands) : null,
      agent: s.agent === false ? false : agent ? join(dir, agent) : null,
    },
  };
}

function entryOf(pkg: any): string | undefined {
  const exp = pkg.exports;
  if (typeof exp === 'string') return exp;
  if (exp && typeof exp === 'object') {
    const root = exp['.'] ?? exp;
    return pathFor(root);
  }
  return pkg.main ?? 'index.js';
}

/**
 * A path, or conditions naming one (`{"sprout-source": "./src/x.ts", "default": "./dist/x.js"}`):
 * a kernel run from its sources takes `sprout-source`, as Node does under `--conditions=sprout-source`.
 */
function pathFor(target: unknown): string | undefined {
  if (typeof target === 'string') return target;
  if (!target || typeof target !== 'object') return undefined;
  const conditions = target as Record<string, unknown>;
  const chosen = (runningFromSource ? conditions['sprout-source'] : undefined) ?? conditions.import ?? conditions.default;
  return typeof chosen === 'string' ? chosen : undefined;
}
