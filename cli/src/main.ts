/**
 * Builds the `sprout` command line: the builtin commands plus the commands of every
 * active plugin (named by its manifest's `"commands"` module), so plugin commands
 * appear in `sprout --help` and behave like builtin ones.
 */
import { Builtins, Cli, type CommandClass } from 'clipanion';
import { SproutCommand } from '@sprout/kernel/cli';
import { builtinCommands } from './commands/index.ts';
import { pluginCommands } from './plugin-commands.ts';
import { localDefaults } from './local-config.ts';

export const cliVersion = '0.1.0';

export async function buildCli(argv: string[]): Promise<Cli> {
  const cli = new Cli({ binaryLabel: 'Sprout — bare-metal provisioning', binaryName: 'sprout', binaryVersion: cliVersion });
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  for (const command of builtinCommands) cli.register(command);
  const { commands, warnings } = await pluginCommands(argv);
  for (const command of commands) cli.register(command as CommandClass);
  for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
  return cli;
}

export async function main(argv: string[]): Promise<number> {
  SproutCommand.localDefaults = localDefaults;
  const cli = await buildCli(argv);
  return cli.run(argv, Cli.defaultContext);
}
