/**
 * Module resolution hooks (run on Node's loader thread, so plain JavaScript: tsx is not
 * there to compile this file). A module inside one of the registered plugin packages
 * that imports a shared package (`@sprout/kernel`, `typebox`, their subpaths) gets it
 * resolved as if the kernel had imported it, so the plugin and the kernel share one
 * copy. Nothing else a plugin imports is touched.
 */
let shared = [];
let anchor = '';
const roots = [];

export function initialize(data) {
  shared = data.shared;
  anchor = data.anchor;
  roots.push(...data.roots);
}

const isShared = (specifier) => shared.some((name) => specifier === name || specifier.startsWith(`${name}/`));
const inPluginPackage = (parentURL) => typeof parentURL === 'string' && roots.some((root) => parentURL.startsWith(root));

export async function resolve(specifier, context, nextResolve) {
  if (isShared(specifier) && inPluginPackage(context.parentURL)) {
    return nextResolve(specifier, { ...context, parentURL: anchor });
  }
  return nextResolve(specifier, context);
}
