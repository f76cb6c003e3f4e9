/**
 * Loads the command classes active plugins contribute. A plugin whose commands fail to
 * load is named in a warning; the builtin commands keep working.
 */
import { pathToFileURL } from 'node:url';
import { inspectPlugins, quickSettings } from '@sprout/kernel/discovery';

export async function pluginCommands(argv: string[]): Promise<{ commands: unknown[]; warnings: string[] }> {
  const warnings: string[] = [];
  let plugins;
  try {
    const file = configFlag(argv);
    plugins = inspectPlugins(quickSettings({ file })).plugins;
  } catch {
    // A broken config is reported by the command that needs it (e.g. `sprout config show`).
    return { commands: [], warnings };
  }
  const commands: unknown[] = [];
  for (const plugin of plugins) {
    if (!plugin.active || !plugin.commands) continue;
    try {
      const mod = await import(pathToFileURL(plugin.commands).href);
      const list = mod.default ?? mod.commands;
      if (!Array.isArray(list)) throw new Error(`${plugin.commands} must export default an array of command classes`);
      commands.push(...list);
    } catch (err) {
      warnings.push(`commands of plugin ${plugin.id} could not be loaded: ${(err as Error).message}`);
    }
  }
  return { commands, warnings };
}

function configFlag(argv: string[]): string | undefined {
  const i = argv.findIndex((a) => a === '--config' || a.startsWith('--config='));
  if (i < 0) return undefined;
  return argv[i].includes('=') ? argv[i].split('=').slice(1).join('=') : argv[i + 1];
}
