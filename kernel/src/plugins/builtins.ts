/**
 * Builtin plugins are the plugin packages (`@sprout/plugin-*`) a package declares as its
 * dependencies, found by Node's package resolution from that package: the CLI and the
 * site agent each name theirs in their package.json, and an installed Sprout finds them
 * in node_modules like any other dependency. The kernel itself names none.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const builtinPackage = /^@sprout\/plugin-/;

/** Package folders of the builtin plugins `packageJson` (a path or file: URL) declares as dependencies. */
export function builtinPluginsOf(packageJson: string | URL): string[] {
  const file = typeof packageJson === 'string' ? packageJson : fileURLToPath(packageJson);
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; dependencies?: Record<string, string> };
  return Object.keys(pkg.dependencies ?? {})
    .filter((name) => builtinPackage.test(name))
    .sort()
    .map((name) => {
      try {
        return resolvePluginPackage(name, file);
      } catch (err) {
        throw new Error(
          `${pkg.name ?? file} declares the builtin plugin ${name}, which is not installed (${(err as Error).message.split('\n')[0]}): reinstall Sprout`,
        );
      }
    });
}

/** The folder of package `name` as Node resolves it from `from` (a file path or file: URL), e.g. a plugin's test finding its own package. */
export function resolvePluginPackage(name: string, from: string | URL): string {
  const file = typeof from === 'string' ? from : fileURLToPath(from);
  return packageDirOf(createRequire(file).resolve(name), name);
}

function packageDirOf(entry: string, name: string): string {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name) return dir;
  }
  throw new Error(`no package.json named ${name} above ${entry}`);
}

/** The package folders directly inside `folder` (a folder of plugin packages, as test fixtures keep them). */
export function packagesIn(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder, { withFileTypes: true })
    .filter((e) => e.isDirectory() || e.isSymbolicLink())
    .map((e) => join(folder, e.name))
    .sort();
}
