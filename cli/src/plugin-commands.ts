/**
 * Loads the command classes active plugins contribute, from the plugin directory of the
 * config the command line names (`--config`, else SPROUT_CONFIG, else ./sprout.yaml).
 * A plugin's commands live under its own noun, grouped under it in `sprout --help`; they
 * may not take a builtin noun or a path already taken. A plugin whose commands fail to
 * load or break these rules is named in a warning; every other command keeps working.
 */
import { importPluginModule, inspectPlugins, quickSettings, type PluginStatus } from '@sprout/kernel/discovery';
import { builtinCommands } from './commands/index.ts';
import { builtinPlugins } from './builtin-plugins.ts';

interface CommandLike {
  paths?: string[][];
  usage?: { category?: string; description?: string };
}

export async function pluginCommands(
  argv: string[],
  builtin: readonly CommandLike[] = builtinCommands as readonly CommandLike[],
): Promise<{ commands: unknown[]; warnings: string[] }> {
  const warnings: string[] = [];
  let plugins: PluginStatus[];
  try {
    plugins = inspectPlugins(quickSettings({ file: configFlag(argv) }), builtinPlugins).plugins;
  } catch {
    // A broken config is reported by the command that needs it (e.g. `sprout config show`).
    return { commands: [], warnings };
  }
  const builtinNouns = new Set(builtin.flatMap((c) => (c.paths ?? []).map((p) => p[0])));
  const taken = new Map<string, string>(builtin.flatMap((c) => (c.paths ?? []).map((p) => [p.join(' '), 'a builtin command'] as [string, string])));
  const commands: unknown[] = [];
  for (const plugin of plugins) {
    if (!plugin.active || !plugin.commands) continue;
    try {
      const mod = await importPluginModule(plugin.commands, plugin.dir, plugin.builtin);
      const list: unknown = mod.default ?? mod.commands;
      if (!Array.isArray(list)) throw new Error(`${plugin.commands} must export default an array of command classes`);
      const refused = list.flatMap((command) => problemsOf(command, builtinNouns, taken));
      if (refused.length > 0) throw new Error(refused.join('; '));
      for (const command of list as CommandLike[]) {
        for (const path of command.paths!) taken.set(path.join(' '), `plugin ${plugin.id}`);
        groupUnderNoun(command);
      }
      commands.push(...list);
    } catch (err) {
      warnings.push(`commands of plugin ${plugin.id} could not be loaded: ${(err as Error).message}`);
    }
  }
  return { commands, warnings };
}

function problemsOf(candidate: unknown, builtinNouns: Set<string>, taken: Map<string, string>): string[] {
  const command = candidate as CommandLike;
  if (typeof candidate !== 'function' || !Array.isArray(command.paths) || command.paths.length === 0)
    return ['every export must be a command class with static paths'];
  const problems: string[] = [];
  for (const path of command.paths) {
    const text = path.join(' ');
    if (path.length < 2) problems.push(`"sprout ${text}" must be a noun and a verb, e.g. "sprout ${text || 'burnin'} report"`);
    else if (builtinNouns.has(path[0])) problems.push(`"sprout ${text}" uses the builtin noun "${path[0]}"; a plugin's commands live under a noun of its own`);
    if (taken.has(text)) problems.push(`"sprout ${text}" is already ${taken.get(text)}`);
  }
  return problems;
}

/** A command without a category is listed under its noun in `sprout --help`. */
function groupUnderNoun(command: CommandLike): void {
  const noun = command.paths![0][0];
  const category = noun.charAt(0).toUpperCase() + noun.slice(1);
  if (!command.usage) command.usage = { category };
  else if (!command.usage.category) command.usage = { ...command.usage, category };
}

function configFlag(argv: string[]): string | undefined {
  const i = argv.findIndex((a) => a === '--config' || a.startsWith('--config='));
  if (i < 0) return undefined;
  return argv[i].includes('=') ? argv[i].split('=').slice(1).join('=') : argv[i + 1];
}
