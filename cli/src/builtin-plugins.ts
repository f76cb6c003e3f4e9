/**
 * The control plane's builtin plugins: every `@sprout/plugin-*` package the CLI declares
 * as a dependency in its package.json, resolved from the CLI's own folder (an installed
 * Sprout finds them in node_modules, a checkout through the workspace links). Adding a
 * builtin plugin is adding it to cli/package.json's dependencies.
 */
import { builtinPluginsOf } from '@sprout/kernel/discovery';

export const builtinPlugins: readonly string[] = builtinPluginsOf(new URL('../package.json', import.meta.url));
