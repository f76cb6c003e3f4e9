/**
 * Loads the effective configuration (see read-config.ts for where values come from),
 * validates it and reports every bad key at once.
 */
import { resolve } from 'node:path';
import { SproutError, type ProblemDetail } from '../errors/index.ts';
import { configSchema, type SproutConfig } from './schema.ts';
import { schemaProblems } from './schema-errors.ts';
import { readConfig, type LoadConfigOptions } from './read-config.ts';

export interface LoadedConfig {
  config: SproutConfig;
  /** The file read, or null when only defaults and environment apply. */
  file: string | null;
}

export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const { raw, file, base } = readConfig(options);
  const problems = movedKeys(raw);
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
 * Keys an older Sprout read that now belong elsewhere: each is reported with where it
 * went (and left out, so the schema does not also call it unknown).
 */
const moved: Record<string, string> = {
  nats: "the NATS URL is the transport plugin's setting now: write plugins.transport-nats.url (SPROUT_NATS_URL still sets it) instead of nats.url",
};

function movedKeys(raw: Record<string, unknown>): ProblemDetail[] {
  const problems: ProblemDetail[] = [];
  for (const [key, message] of Object.entries(moved)) {
    if (raw[key] === undefined) continue;
    problems.push({ field: key, message });
    delete raw[key];
  }
  return problems;
}
