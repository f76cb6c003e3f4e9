/**
 * Installing and removing third-party plugins in the plugin directory with npm. The
 * plugin directory is an npm project of its own (`<pluginDir>/package.json` lists what
 * is installed). Peer dependencies are not installed (`--legacy-peer-deps`): a plugin's
 * `@sprout/kernel` and typebox come from this installation. A package that fails the
 * kernel's validation is uninstalled again and refused with every reason.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { SproutError, type SproutConfig } from '@sprout/kernel';
import { builtinPlugins } from '../builtin-plugins.ts';

export interface InstallResult {
  packageName: string;
  version: string;
  id: string;
  provides: string[];
  pluginDir: string;
  /** `capabilities.<id>.use` entries written to the config file. */
  enabled: string[];
  /** Capabilities it provides that need a `use:` choice it did not get. */
  needsChoice: string[];
  configFile: string | null;
}

export interface RemoveResult {
  packageName: string;
  id: string;
  pluginDir: string;
  /** `capabilities.<id>` selections removed from the config file. */
  disabled: string[];
  configFile: string | null;
}

export async function installPlugin(input: {
  spec: string;
  registry?: string;
  enable: boolean;
  config: SproutConfig;
  configFile: string | null;
  cwd: string;
}): Promise<InstallResult> {
  const { config } = input;
  const pluginDir = config.pluginDir;
  ensurePluginProject(pluginDir);
  const before = dependencies(pluginDir);
  await npm(['install', '--prefix', pluginDir, input.spec, ...registryArgs(input.registry), '--save', ...quiet], input.cwd);
  const after = dependencies(pluginDir);
  const packageName = Object.keys(after).find((name) => before[name] !== after[name]) ?? nameOf(input.spec, input.cwd);
  const { validatePluginPackage } = await import('@sprout/kernel');
  let checked = await validatePluginPackage(config, packageName, builtinPlugins);
  const enabled: string[] = [];
  if (checked.manifest && input.enable && checked.needsChoice.length > 0) {
    const capabilities = { ...config.capabilities };
    for (const capability of checked.needsChoice) capabilities[capability] = { ...capabilities[capability], use: checked.manifest.id };
    checked = await validatePluginPackage({ ...config, capabilities }, packageName, builtinPlugins);
    enabled.push(...checked.needsChoice);
  }
  if (!checked.manifest || checked.problems.length > 0) {
    const removed = await npm(['uninstall', '--prefix', pluginDir, packageName, ...quiet], input.cwd).then(
      () => 'was removed again',
      (err: Error) => `could not be removed again (${err.message})`,
    );
    throw new SproutError(
      'SPROUT_ERR_PLUGIN_VALIDATION',
      `${packageName} is refused and ${removed}: ${checked.problems.length} problem${checked.problems.length === 1 ? '' : 's'}`,
      { details: checked.problems },
    );
  }
  let configFile = input.configFile;
  if (enabled.length > 0) {
    configFile ??= join(input.cwd, 'sprout.yaml');
    editConfig(configFile, (doc) => {
      for (const capability of enabled) doc.setIn(['capabilities', capability, 'use'], checked.manifest!.id);
    });
  }
  const m = checked.manifest;
  return {
    packageName,
    version: m.version,
    id: m.id,
    provides: m.provides,
    pluginDir,
    enabled,
    needsChoice: checked.needsChoice.filter((c) => !enabled.includes(c)),
    configFile,
  };
}

export async function removePlugin(input: { name: string; config: SproutConfig; configFile: string | null; cwd: string }): Promise<RemoveResult> {
  const { config } = input;
  const pluginDir = config.pluginDir;
  const { inspectPlugins } = await import('@sprout/kernel');
  const installed = inspectPlugins(config, builtinPlugins).plugins.find((p) => p.packageName === input.name || p.id === input.name);
  if (installed?.builtin)
    throw new SproutError(
      'SPROUT_ERR_CONFLICT',
      `${installed.packageName} is a builtin plugin and cannot be removed; select another provider in config instead`,
    );
  const packageName = installed?.packageName ?? input.name;
  if (!(packageName in dependencies(pluginDir))) throw new SproutError('SPROUT_ERR_NOT_FOUND', `${input.name} is not installed in ${pluginDir}`);
  await npm(['uninstall', '--prefix', pluginDir, packageName, ...quiet], input.cwd);
  const id = installed?.id ?? packageName;
  const disabled: string[] = [];
  if (input.configFile) {
    editConfig(input.configFile, (doc) => {
      const capabilities = doc.toJS()?.capabilities ?? {};
      for (const [capability, choice] of Object.entries(capabilities as Record<string, { use?: string }>)) {
        if (choice?.use === id || choice?.use === packageName) {
          doc.deleteIn(['capabilities', capability, 'use']);
          disabled.push(capability);
        }
      }
    });
  }
  return { packageName, id, pluginDir, disabled, configFile: input.configFile };
}

/** Peers are never installed (they come from the installation), and npm asks nobody about them. */
const quiet = ['--legacy-peer-deps', '--no-audit', '--no-fund'];

/**
 * The plugin directory is an npm project so that npm installs into it and lists what it
 * holds; its .npmrc keeps peers out for an operator's own `npm … --prefix` runs too.
 */
function ensurePluginProject(pluginDir: string): void {
  mkdirSync(pluginDir, { recursive: true });
  if (!existsSync(join(pluginDir, '.npmrc'))) writeFileSync(join(pluginDir, '.npmrc'), 'legacy-peer-deps=true\n');
  const file = join(pluginDir, 'package.json');
  if (!existsSync(file)) {
    writeFileSync(
      file,
      `${JSON.stringify({ name: 'sprout-plugins', private: true, description: 'Plugins installed with `sprout plugin install`', dependencies: {} }, null, 2)}\n`,
    );
  }
}

function dependencies(pluginDir: string): Record<string, string> {
  try {
    return JSON.parse(readFileSync(join(pluginDir, 'package.json'), 'utf8')).dependencies ?? {};
  } catch {
    return {};
  }
}

/** `@acme/x@1.2.0` → `@acme/x`; `x@^1` → `x`; a folder → the name in its package.json. */
function nameOf(spec: string, cwd: string): string {
  const folder = resolve(cwd, spec.replace(/^file:/, ''));
  if (/^(\.|\/|file:)/.test(spec) && existsSync(join(folder, 'package.json')))
    return JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')).name ?? spec;
  const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
  return at > 0 ? spec.slice(0, at) : spec;
}

/** A local registry (`sprout registry start`) needs no account; npm wants a token anyway, any will do. */
function registryArgs(registry: string | undefined): string[] {
  if (!registry) return [];
  const url = new URL(registry);
  return ['--registry', registry, ...(isLoopback(url.hostname) ? [`--//${url.host}${url.pathname.replace(/\/?$/, '/')}:_authToken=sprout-local`] : [])];
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

function editConfig(file: string, edit: (doc: ReturnType<typeof parseDocument>) => void): void {
  const doc = parseDocument(existsSync(file) ? readFileSync(file, 'utf8') : '');
  if (doc.contents === null) doc.contents = doc.createNode({}) as never;
  edit(doc);
  // An emptied selection leaves no `capabilities.x: {}` behind.
  const capabilities = doc.toJS()?.capabilities as Record<string, object> | undefined;
  for (const [capability, value] of Object.entries(capabilities ?? {})) {
    if (value && typeof value === 'object' && Object.keys(value).length === 0) doc.deleteIn(['capabilities', capability]);
  }
  if (capabilities && Object.keys(doc.toJS()?.capabilities ?? {}).length === 0) doc.deleteIn(['capabilities']);
  writeFileSync(file, doc.toString());
}

function npm(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (err) => reject(new Error(`cannot run npm: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new SproutError('SPROUT_ERR_UNAVAILABLE', `npm ${args[0]} failed (exit ${code}):\n${out.trim().split('\n').slice(-15).join('\n')}`));
    });
  });
}
