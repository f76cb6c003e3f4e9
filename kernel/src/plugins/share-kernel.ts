/**
 * Third-party plugins are installed into the plugin directory, outside the Sprout
 * installation, and declare `@sprout/kernel` (and typebox) as peer dependencies: they
 * must use the kernel that loads them, never a copy of their own — capability refs and
 * the definePlugin marker are compared by identity. Before such a package's code is
 * imported, its folder is registered with a resolution hook that answers those imports
 * from the kernel's own location.
 */
import { register } from 'node:module';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** Packages a plugin gets from the installation, never from its own node_modules. */
export const sharedPackages = ['@sprout/kernel', 'typebox'] as const;

const registered = new Set<string>();

/** Makes imports of the shared packages from code under `packageDir` resolve to the kernel's copies. Idempotent. */
export function shareKernelWith(packageDir: string): void {
  let root: string;
  try {
    root = pathToFileURL(realpathSync(packageDir)).href.replace(/\/?$/, '/');
  } catch {
    return; // nothing there to import; the import itself will say so
  }
  if (registered.has(root)) return;
  registered.add(root);
  register(new URL('./share-kernel-hooks.mjs', import.meta.url), {
    data: { shared: [...sharedPackages], anchor: import.meta.url, roots: [root] },
  });
}
