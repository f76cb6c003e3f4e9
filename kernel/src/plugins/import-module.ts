/**
 * Imports a plugin package's module (its entry, its `"commands"`). Sprout runs compiled
 * JavaScript (each package's dist/); a plugin whose files are TypeScript — one made by
 * `sprout plugin new` and never built — is loaded through tsx when tsx is installed next
 * to Sprout (a development checkout), and refused with what to do otherwise. Run from its
 * sources (tests, development), the kernel already has a TypeScript loader.
 */
import { pathToFileURL } from 'node:url';
import { shareKernelWith } from './share-kernel.ts';

/** This kernel runs from its TypeScript sources (the `sprout-source` export condition), not from dist/. */
export const runningFromSource = import.meta.url.endsWith('.ts');

const typescriptFile = /\.[cm]?tsx?$/;
let typescriptLoader: Promise<void> | undefined;

function loadTypeScript(file: string): Promise<void> {
  typescriptLoader ??= (async () => {
    const tsx = 'tsx/esm/api'; // a development tool: never a dependency of Sprout itself
    let api: { register(): unknown };
    try {
      api = await import(tsx);
    } catch {
      typescriptLoader = undefined;
      throw new Error(
        `${file} is TypeScript and this Sprout runs JavaScript: build the plugin (its package.json "exports" naming .js files), or install tsx beside Sprout (npm install tsx) to load it as it is`,
      );
    }
    api.register();
  })();
  return typescriptLoader;
}

/** Imports a module by path, a TypeScript one through tsx when the kernel runs from dist/. */
export async function importFile(file: string): Promise<any> {
  if (!runningFromSource && typescriptFile.test(file)) await loadTypeScript(file);
  return import(pathToFileURL(file).href);
}

/** Imports `file` of the plugin package in `packageDir` (a builtin plugin's imports are left alone). */
export async function importPluginModule(file: string, packageDir: string, builtin: boolean): Promise<any> {
  if (!builtin) shareKernelWith(packageDir);
  return importFile(file);
}
