/**
 * `sprout plugin new`: writes a plugin package and links it to this Sprout
 * installation (node_modules symlinks to @sprout/kernel, typebox, ava and tsx), so its
 * tests run with no `npm install` and on the very kernel that will load it. It never
 * writes into an existing non-empty folder.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SproutError } from '@sprout/kernel';
import { kernelApiVersion, kernelVersion } from '@sprout/kernel/discovery';
import { pluginFiles, scaffoldCapabilities, type ScaffoldCapability } from './plugin-templates.ts';

export interface ScaffoldRequest {
  /** `burnin`, `sprout-plugin-burnin` or `@acme/sprout-plugin-burnin`. */
  name: string;
  capability: ScaffoldCapability;
  /** Folder to create; default `./<package name without scope>`. */
  dir?: string;
  cwd: string;
}

export interface Scaffolded {
  dir: string;
  packageName: string;
  id: string;
  capability: ScaffoldCapability;
  files: string[];
  /** Packages linked from the installation, and the ones it does not have. */
  linked: string[];
  missing: string[];
}

const packagePattern = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;

/** Package name and plugin id for what the author typed: the id drops the scope and a `sprout-plugin-` prefix. */
export function namesFor(name: string): { packageName: string; id: string } {
  const packageName = name.includes('/') || name.startsWith('sprout-plugin-') ? name : `sprout-plugin-${name}`;
  if (!packagePattern.test(packageName))
    throw new SproutError('SPROUT_ERR_VALIDATION', `"${name}" is not a valid npm package name (lowercase, e.g. @acme/sprout-plugin-burnin)`);
  const id = packageName.replace(/^@[^/]+\//, '').replace(/^sprout-plugin-/, '');
  if (!/^[a-z][a-z0-9-]*$/.test(id))
    throw new SproutError(
      'SPROUT_ERR_VALIDATION',
      `the plugin id "${id}" taken from "${name}" must be lowercase letters, digits and dashes, starting with a letter`,
    );
  return { packageName, id };
}

export function scaffoldPlugin(request: ScaffoldRequest): Scaffolded {
  if (!scaffoldCapabilities.includes(request.capability)) {
    throw new SproutError('SPROUT_ERR_VALIDATION', `--capability must be one of: ${scaffoldCapabilities.join(', ')}`);
  }
  const { packageName, id } = namesFor(request.name);
  const dir = resolve(request.cwd, request.dir ?? packageName.replace(/^@[^/]+\//, ''));
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new SproutError('SPROUT_ERR_CONFLICT', `${dir} exists and is not empty; choose another --dir`);
  const files = pluginFiles({
    packageName,
    id,
    capability: request.capability,
    kernelVersion,
    kernelApiVersion,
    typeboxVersion: installedVersion('typebox') ?? '1.0.0',
  });
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  const { linked, missing } = linkInstallation(dir);
  return { dir, packageName, id, capability: request.capability, files: Object.keys(files), linked, missing };
}

/** What a plugin package borrows from the installation: the peers, and the test tools. */
const borrowed = [
  { name: '@sprout/kernel', bins: {} },
  // The server's builtin plugins (its tests boot a kernel with them, as `sprout server` does).
  { name: '@sprout/cli', bins: {} },
  { name: 'typebox', bins: {} },
  { name: 'ava', bins: { ava: 'entrypoints/cli.mjs' } },
  { name: 'tsx', bins: { tsx: 'dist/cli.mjs' } },
] as const;

export function linkInstallation(dir: string): { linked: string[]; missing: string[] } {
  const linked: string[] = [];
  const missing: string[] = [];
  for (const { name, bins } of borrowed) {
    const root = installedPackageDir(name);
    if (!root) {
      missing.push(name);
      continue;
    }
    const target = join(dir, 'node_modules', name);
    if (!existsSync(target)) {
      mkdirSync(dirname(target), { recursive: true });
      symlinkSync(root, target, 'dir');
    }
    for (const [bin, file] of Object.entries(bins)) {
      const link = join(dir, 'node_modules', '.bin', bin);
      if (existsSync(link)) continue;
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(relative(dirname(link), join(target, file)), link);
    }
    linked.push(name);
  }
  return { linked, missing };
}

/** The folder of a package as this installation resolves it, or null. */
function installedPackageDir(name: string): string | null {
  let file: string;
  try {
    file = fileURLToPath(import.meta.resolve(name));
  } catch {
    return null;
  }
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === name) return dir;
  }
  return null;
}

function installedVersion(name: string): string | undefined {
  const dir = installedPackageDir(name);
  return dir ? JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version : undefined;
}
