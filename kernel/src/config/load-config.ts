/**
 * Loads the effective configuration (see read-config.ts for where values come from),
 * validates it and reports every bad key at once.
 */
import { resolve } from 'node:path';
import { SproutError, type ProblemDetail } from '../errors/index.ts';
import { configSchema, type SproutConfig } from './schema.ts';
import { schemaProblems } from './schema-errors.ts';
import { readConfig, type LoadConfigOptions } from './read-config.ts';
import { readManifest } from '../plugins/manifest.ts';

export interface LoadedConfig {
  config: SproutConfig;
  /** The file read, or null when only defaults and environment apply. */
  file: string | null;
}

export function loadConfig(options: LoadConfigOptions & { plugins?: readonly string[] } = {}): LoadedConfig {
  const { raw, file, base } = readConfig(options);
  const problems = movedKeys(raw, options.plugins ?? []);
  problems.push(...schemaProblems(configSchema, raw, ''));
  if (problems.length > 0) {
    throw new SproutError(
      'SPROUT_ERR_CONFIG',
      `configuration${file ? ` in ${file}` : ''} is invalid (${problems.length} problem${problems.length > 1 ? 's' : ''})`,
      {
        details: problems,
      },
    );
  }
  const config = raw as SproutConfig;
  config.dataDir = resolve(base, config.dataDir);
  config.pluginDir = resolve(base, config.pluginDir);
  if (config.tls) {
    config.tls = {
      ...config.tls,
      cert: resolve(base, config.tls.cert),
      key: resolve(base, config.tls.key),
      ...(config.tls.ca ? { ca: resolve(base, config.tls.ca) } : {}),
    };
  }
  return { config, file };
}

/**
 * Keys of the kernel's config an older Sprout read that are now a plugin's settings (its
 * manifest's `"movedSettings"`, read from the builtin plugins' package folders given):
 * each section still set is reported with where it went, and left out so the schema does
 * not also call it unknown.
 */
function movedKeys(raw: Record<string, unknown>, plugins: readonly string[]): ProblemDetail[] {
  const problems: ProblemDetail[] = [];
  for (const dir of plugins) {
    const manifest = readManifest(dir, true)?.manifest;
    for (const [old, setting] of Object.entries(manifest?.movedSettings ?? {})) {
      const section = old.split('.')[0];
      if (raw[section] === undefined) continue;
      const variables = Object.entries(manifest!.env)
        .filter(([, s]) => s === setting)
        .map(([variable]) => variable);
      const where = `plugins.${manifest!.id}.${setting}${variables.length > 0 ? ` (${variables.join(', ')} still sets it)` : ''}`;
      problems.push({ field: section, message: `${old} is a setting of plugin ${manifest!.id} now: write ${where} instead of ${old}` });
      delete raw[section];
    }
  }
  return problems;
}
