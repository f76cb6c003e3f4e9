/** `sprout registry …`: the local npm registry plugin authors publish to. */
import { RegistryStartCommand } from './start.ts';
import { RegistryStopCommand } from './stop.ts';
import { RegistryStatusCommand } from './status.ts';

export const registryCommands = [RegistryStartCommand, RegistryStatusCommand, RegistryStopCommand];
