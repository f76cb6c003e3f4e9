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

export const cliVersion = '0.1.0';

/**
 * Colours only for a person at a terminal: never in a pipe or a file, never with
 * NO_COLOR (https://no-color.org) or TERM=dumb; FORCE_COLOR (not 0) forces them.
 */
export function wantsColour(env: NodeJS.ProcessEnv = process.env, stream: { isTTY?: boolean } = process.stdout): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') return env.FORCE_COLOR !== '0';
  return Boolean(stream.isTTY) && env.TERM !== 'dumb';
}

/**
 * clipanion prints the stack of any error that reaches it, on stdout. An operator gets
 * one line on stderr instead (the stack only with SPROUT_DEBUG); usage errors keep
 * clipanion's text, which shows the command's usage.
 */
class SproutCli extends Cli {
  /** clipanion's coloured header fades its rule through `38;5;232`…`38;5;256`, and 256 is no colour: a plain bold rule instead. */
  format(colored?: boolean) {
    const format = super.format(colored);
    if (!format.bold('x').includes('\x1b')) return format;
    return { ...format, header: (text: string) => `\x1b[1m━━━ ${text} ${'━'.repeat(Math.max(3, 75 - text.length))}\x1b[0m` };
  }

  error(error: Error, opts?: { colored?: boolean; command?: never }): string {
    const isUsage = typeof error === 'object' && error !== null && 'clipanion' in error;
    const text = isUsage ? super.error(error, opts) : `error: ${(process.env.SPROUT_DEBUG ? error?.stack : error?.message) ?? String(error)}\n`;
    process.stderr.write(text);
    return '';
  }
}

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
