/**
 * Checks the agent's config (agent.yaml and the flags that override it) before the agent
 * spends its join token or opens a socket: every bad field is named with its path, the
 * way the control plane's config errors are, and all of them are reported at once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SproutError, importAgentPart, type ProblemDetail } from '@sprout/kernel/sdk';
import { discoverPlugins } from '@sprout/kernel/discovery';
import { builtinPlugins } from './builtin-plugins.ts';
import { parseTftpSettings } from './services/tftp/settings.ts';
import { parseHttpBootSettings } from './services/http-boot/index.ts';
import { parseRaSettings } from './services/ra/index.ts';
import { parseMetricsSettings } from './metrics/metrics-listener.ts';

/** agent.yaml, as `sprout agent run --config` reads it. */
export interface AgentConfigFile {
  controlPlane?: string;
  joinToken?: string;
  dataDir?: string;
  hostname?: string;
  pluginDir?: string;
  natsUrl?: string;
  /** PEM file of a private CA the control plane's certificate chains to. */
  ca?: string;
  services?: Record<string, Record<string, unknown>>;
  /** `metrics: { listen: host:port }`: serve GET /metrics there (docs/metrics.md). */
  metrics?: { listen?: string };
}

type SettingsCheck = (settings: Record<string, unknown>, services: Readonly<Record<string, Readonly<Record<string, unknown>>>>) => unknown;

const text = (message: string) => (v: unknown) => (typeof v === 'string' && v !== '' ? null : message);
const topLevel: Record<keyof AgentConfigFile, (value: unknown) => string | null> = {
  controlPlane: (v) =>
    typeof v === 'string' && /^https?:\/\/[^\s/]+/.test(v) ? null : `must be the http:// or https:// URL of the Sprout API, got ${JSON.stringify(v)}`,
  joinToken: text('must be the join token (a string) from `sprout site join-token`'),
  dataDir: text('must be a folder path'),
  hostname: text('must be a non-empty string'),
  pluginDir: text('must be a folder path'),
  natsUrl: (v) => (typeof v === 'string' && /^(nats|tls):\/\//.test(v) ? null : 'must be a nats:// or tls:// URL'),
  ca: (v) =>
    typeof v !== 'string' || v === ''
      ? 'must be the path of a PEM CA certificate file'
      : !existsSync(v)
        ? `${v} does not exist`
        : readFileSync(v, 'utf8').includes('-----BEGIN CERTIFICATE-----')
          ? null
          : `${v} holds no PEM certificate`,
  metrics: (v) => {
    try {
      parseMetricsSettings(v);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  },
  services: (v) =>
    v === null || (typeof v === 'object' && !Array.isArray(v)) ? null : 'must be a mapping of service names (dhcp, tftp, http, dns…) to their settings',
};

/** The problems of agent.yaml's top-level keys (a parsed file): unknown keys and wrong values. */
export function agentConfigProblems(file: unknown): ProblemDetail[] {
  if (typeof file !== 'object' || file === null || Array.isArray(file)) return [{ field: '(root)', message: 'must be a mapping of settings' }];
  const problems: ProblemDetail[] = [];
  for (const [key, value] of Object.entries(file)) {
    const check = topLevel[key as keyof AgentConfigFile];
    if (!check) problems.push({ field: key, message: `unknown key; known: ${Object.keys(topLevel).join(', ')}` });
    else if (value !== undefined && value !== null) {
      const problem = check(value);
      if (problem) problems.push({ field: key, message: problem });
    }
  }
  return problems;
}

/**
 * The problems of `services:`: a service no installed plugin offers, a service whose
 * settings are not a mapping, and every bad setting its own check finds.
 */
export async function serviceSettingsProblems(services: Record<string, unknown>, pluginDir: string): Promise<ProblemDetail[]> {
  const checks = new Map<string, SettingsCheck>([
    ['tftp', (settings) => parseTftpSettings(settings)],
    ['http', (settings) => parseHttpBootSettings(settings)],
    ['ra', (settings, services) => parseRaSettings(settings, services)],
  ]);
  const offered = new Set(checks.keys());
  const problems: ProblemDetail[] = [];
  for (const manifest of discoverPlugins(builtinPlugins, pluginDir).plugins) {
    try {
      const part = await importAgentPart(manifest);
      for (const name of Object.keys(part?.services ?? {})) offered.add(name);
      for (const [name, check] of Object.entries(part?.settingsChecks ?? {})) checks.set(name, check);
    } catch {
      // Reported when the agent loads its parts; a broken plugin does not hide the config's own problems.
    }
  }
  const all = Object.fromEntries(Object.entries(services).map(([k, v]) => [k, (v ?? {}) as Record<string, unknown>]));
  for (const [name, settings] of Object.entries(services)) {
    if (settings !== null && settings !== undefined && (typeof settings !== 'object' || Array.isArray(settings))) {
      problems.push({ field: `services.${name}`, message: 'must be a mapping of settings' });
      continue;
    }
    if (!offered.has(name)) {
      problems.push({ field: `services.${name}`, message: `no installed plugin offers a "${name}" service; known: ${[...offered].sort().join(', ')}` });
      continue;
    }
    try {
      checks.get(name)?.((settings ?? {}) as Record<string, unknown>, all);
    } catch (err) {
      const e = err as Partial<SproutError> & Error;
      if (e.details?.length) problems.push(...e.details.map((d) => ({ ...d, field: d.field ?? `services.${name}` })));
      else {
        // A check that names its field in the message (`services.http.artifactRoot: …`) keeps it.
        const named = /^(services\.[\w.]+):? (.*)$/s.exec(e.message);
        problems.push(named ? { field: named[1], message: named[2] } : { field: `services.${name}`, message: e.message });
      }
    }
  }
  return problems;
}

/** Throws one SPROUT_ERR_CONFIG listing every problem, or returns. */
export function refuseConfig(where: string, problems: ProblemDetail[]): void {
  if (problems.length === 0) return;
  throw new SproutError('SPROUT_ERR_CONFIG', `${where} is invalid (${problems.length} problem${problems.length > 1 ? 's' : ''})`, { details: problems });
}
