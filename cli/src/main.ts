/**
 * Builds the `sprout` command line: the builtin commands plus the commands of every
 * active plugin (named by its manifest's `"commands"` module), so plugin commands
 * appear in `sprout --help` and behave like builtin ones.
 */
import { Builtins, Cli, type BaseContext, type CommandClass } from 'clipanion';
import { SproutCommand } from '@sprout/kernel/cli';
import { builtinCommands } from './commands/index.ts';
import { pluginCommands } from './plugin-commands.ts';
import { localDefaults } from './local-config.ts';
import { CompletionCommand } from './commands/completion.ts';
import { SproutCli, cliVersion, wantsColour } from './cli-base.ts';

export { cliVersion, wantsColour };

export async function buildCli(argv: string[], colour = wantsColour()): Promise<Cli> {
  const cli = new SproutCli({ binaryLabel: 'Sprout — bare-metal provisioning', binaryName: 'sprout', binaryVersion: cliVersion, enableColors: colour });
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  for (const command of builtinCommands) cli.register(command);
  cli.register(CompletionCommand);
  const { commands, warnings } = await pluginCommands(argv);
  for (const command of commands) cli.register(command as CommandClass);
  for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
  return cli;
}

/**
 * `sprout machine`, `sprout artifacts --help`: a noun alone is not a command, so clipanion
 * answers "Command not found"; an operator asking about a noun gets its commands instead.
 * Undefined when argv is not such a question (or the noun is itself a command).
 */
export function nounHelp(cli: Cli, argv: string[]): string | undefined {
  const [noun, flag, ...rest] = argv;
  if (!noun || !/^[a-z][a-z-]*$/.test(noun) || rest.length || (flag !== undefined && flag !== '--help' && flag !== '-h')) return undefined;
  const definitions = cli.definitions();
  if (definitions.some((d) => d.path === `sprout ${noun}`)) return undefined;
  const commands = definitions.filter((d) => d.path.startsWith(`sprout ${noun} `));
  if (!commands.length) return undefined;
  const width = Math.max(...commands.map((d) => d.path.length));
  return [
    `The commands of sprout ${noun}:`,
    ...commands.map((d) => `  ${d.path.padEnd(width)}  ${d.description ?? ''}`.trimEnd()),
    '',
    `\`sprout ${noun} <command> --help\` shows a command's options and examples.`,
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  SproutCommand.localDefaults = localDefaults;
  const colour = wantsColour();
  const cli = await buildCli(argv, colour);
  const help = nounHelp(cli, argv);
  if (help) {
    process.stdout.write(help);
    return 0;
  }
  const context: BaseContext = { ...Cli.defaultContext, colorDepth: colour ? 8 : 1 };
  return cli.run(argv, context);
}
