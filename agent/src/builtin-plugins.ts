/**
 * The site agent's builtin plugins: every `@sprout/plugin-*` package the agent declares as
 * a dependency in its package.json (the ones with an agent part: transports, DHCP, DNS,
 * power drivers), resolved from the agent's own folder.
 */
import { builtinPluginsOf } from '@sprout/kernel/discovery';

export const builtinPlugins: readonly string[] = builtinPluginsOf(new URL('../package.json', import.meta.url));
