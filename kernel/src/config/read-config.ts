/**
 * Reads the configuration without validating it: defaults, then `sprout.yaml` (or the
 * file named by SPROUT_CONFIG), then SPROUT_* environment overrides. Kept free of the
 * schema library so the CLI can find plugins fast; `loadConfig` validates.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SproutError } from '../errors/index.ts';
import { parseHostPort } from './host-port.ts';

export interface LoadConfigOptions {
  /** Explicit file path (a `--config` flag); wins over SPROUT_CONFIG. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Environment variables and the config key each one overrides. */
export const environmentOverrides: Record<string, string> = {
  SPROUT_DATA_DIR: 'dataDir',
  SPROUT_LISTEN: 'listen',
  SPROUT_PUBLIC_URL: 'publicUrl',
  SPROUT_TLS_CERT: 'tls.cert',
  SPROUT_TLS_KEY: 'tls.key',
  SPROUT_DATABASE_URL: 'database.url',
  SPROUT_PLUGIN_DIR: 'pluginDir',
  SPROUT_LOG_LEVEL: 'log.level',
  SPROUT_ADMIN_TOKEN: 'auth.adminToken',
  SPROUT_POWER_CREDENTIAL_KEY: 'power.credentialKey',
  SPROUT_METRICS_ACCESS: 'metrics.access',
};

export interface RawConfig {
  /** Merged, with defaults, not validated: anything may be wrong in it. */
  raw: Record<string, unknown>;
  file: string | null;
  /** Folder relative paths in the config are resolved against. */
  base: string;
}

export function readConfig(options: LoadConfigOptions = {}): RawConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file ?? env.SPROUT_CONFIG;
  let file: string | null = null;
  let fromFile: unknown = {};

  if (explicit) {
    file = resolve(cwd, explicit);
    if (!existsSync(file)) throw new SproutError('SPROUT_ERR_CONFIG', `config file ${file} does not exist`);
  } else if (existsSync(resolve(cwd, 'sprout.yaml'))) {
    file = resolve(cwd, 'sprout.yaml');
  }
  if (file) {
    try {
      fromFile = parseYaml(readFileSync(file, 'utf8')) ?? {};
    } catch (err) {
      throw new SproutError('SPROUT_ERR_CONFIG', `config file ${file} is not valid YAML: ${(err as Error).message}`);
    }
    if (typeof fromFile !== 'object' || Array.isArray(fromFile)) {
      throw new SproutError(
        'SPROUT_ERR_CONFIG',
        `config file ${file} must hold a mapping of keys, not ${Array.isArray(fromFile) ? 'a list' : typeof fromFile}`,
      );
    }
  }

  const raw = structuredClone(fromFile) as Record<string, any>;
  for (const [variable, key] of Object.entries(environmentOverrides)) {
    const value = env[variable];
    if (value !== undefined && value !== '') setPath(raw, key, value);
  }

  const base = file ? dirname(file) : cwd;
  return { raw: withDefaults(raw, base), file, base };
}

function withDefaults(raw: Record<string, any>, base: string): Record<string, unknown> {
  const dataDir = raw.dataDir ?? '.sprout';
  const capabilities = isMapping(raw.capabilities) ? { ...raw.capabilities } : (raw.capabilities ?? {});
  return {
    ...raw,
    dataDir,
    listen: raw.listen ?? '127.0.0.1:7480',
    database: raw.database ?? {},
    pluginDir: raw.pluginDir ?? resolve(base, dataDir, 'plugins'),
    capabilities,
    plugins: raw.plugins ?? {},
    log: { level: 'info', ...(isMapping(raw.log) ? raw.log : {}) },
    auth: raw.auth ?? {},
    power: isMapping(raw.power) || raw.power === undefined ? { pollSeconds: 300, pollConcurrency: 8, callTimeoutSeconds: 60, ...(raw.power ?? {}) } : raw.power,
    metrics: isMapping(raw.metrics) || raw.metrics === undefined ? { enabled: true, access: 'viewer', ...(raw.metrics ?? {}) } : raw.metrics,
    audit: isMapping(raw.audit) || raw.audit === undefined ? { repeatWindowSeconds: 60, ...(raw.audit ?? {}) } : raw.audit,
    lifecycle: lifecycleDefaults(raw.lifecycle),
    agents:
      isMapping(raw.agents) || raw.agents === undefined
        ? { heartbeatSeconds: 10, offlineAfterMissed: 3, joinTokenTtlSeconds: 86_400, ...(raw.agents ?? {}) }
        : raw.agents,
  };
}

function lifecycleDefaults(given: unknown): unknown {
  if (given !== undefined && !isMapping(given)) return given;
  const lifecycle = (given ?? {}) as Record<string, any>;
  const timeouts = lifecycle.timeouts;
  return {
    watchdogIntervalSeconds: 5,
    keepAddressesOnRelease: false,
    hardwareTests: true,
    ...lifecycle,
    timeouts:
      isMapping(timeouts) || timeouts === undefined
        ? { commissioning: 1200, testing: 1200, deploying: 2400, releasing: 600, firstBoot: 900, ...(timeouts ?? {}) }
        : timeouts,
  };
}

function isMapping(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function setPath(target: Record<string, any>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (!isMapping(node[key])) node[key] = {};
    node = node[key];
  }
  node[keys[keys.length - 1]] = value;
}

/** `host:port` → parts, for fastify's listen. */
export function parseListen(listen: string): { host: string; port: number } {
  const parsed = parseHostPort(listen);
  if (!parsed) throw new SproutError('SPROUT_ERR_CONFIG', `listen: host:port, e.g. 127.0.0.1:7480, not ${JSON.stringify(listen)}`);
  return parsed;
}

/**
 * The few settings the CLI needs before any command runs (where plugins and the local
 * server are), taken from the unvalidated config. Wrong types fall back to defaults;
 * the command that uses the config reports them.
 */
export function quickSettings(options: LoadConfigOptions = {}): {
  dataDir: string;
  pluginDir: string;
  listen: string;
  tls: boolean;
  capabilities: Record<string, { use: string }>;
  plugins: Record<string, Record<string, unknown>>;
} {
  const { raw, base } = readConfig(options);
  const text = (v: unknown, fallback: string) => (typeof v === 'string' && v !== '' ? v : fallback);
  const dataDir = resolve(base, text(raw.dataDir, '.sprout'));
  return {
    dataDir,
    pluginDir: resolve(base, text(raw.pluginDir, resolve(dataDir, 'plugins'))),
    listen: text(raw.listen, '127.0.0.1:7480'),
    tls: isMapping(raw.tls),
    capabilities: isMapping(raw.capabilities) ? (raw.capabilities as Record<string, { use: string }>) : {},
    plugins: isMapping(raw.plugins) ? Object.fromEntries(Object.entries(raw.plugins).filter(([, v]) => isMapping(v))) : {},
  };
}
