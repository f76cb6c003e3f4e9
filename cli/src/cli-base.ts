/**
 * What every `sprout` command line shares, without any command: the colour rule and the
 * Cli that prints errors as one line. `sprout agent run` builds its command line from
 * this alone (agent-main.ts), so an agent never loads the other commands.
 */
import { Cli } from 'clipanion';

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
export class SproutCli extends Cli {
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
