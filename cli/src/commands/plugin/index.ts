/**
 * Plugin commands: what is installed (`plugin list`), authoring (`plugin new`, the local
 * `registry`), installing and removing (`plugin install`, `plugin remove`).
 */
import { PluginListCommand } from './list.ts';
import { PluginNewCommand } from './new.ts';
import { PluginInstallCommand } from './install.ts';
import { PluginRemoveCommand } from './remove.ts';
import { registryCommands } from '../registry/index.ts';

export const pluginCommandClasses = [PluginListCommand, PluginNewCommand, PluginInstallCommand, PluginRemoveCommand, ...registryCommands];
