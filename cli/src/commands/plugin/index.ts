/** `sprout plugin …`: what is installed, scaffolding a new plugin, installing and removing one. */
import { PluginListCommand } from './list.ts';
import { PluginNewCommand } from './new.ts';

export const pluginCommandClasses = [PluginListCommand, PluginNewCommand];
