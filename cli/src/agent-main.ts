/**
 * `sprout agent run` on its own (cli/bin/sprout.js comes here for `agent run …`): a
 * command line of that one command, so a site agent never loads the other ~90 command
 * modules and what they import (docs/benchmarks.md, "Startup and memory"). Errors,
 * colours and `--help` behave as in the full command line.
 */
import { Builtins, Cli, type BaseContext } from 'clipanion';
import { SproutCli, cliVersion, wantsColour } from './cli-base.ts';
import { AgentRunCommand } from './commands/agent/run.ts';

export async function agentMain(argv: string[]): Promise<number> {
  const colour = wantsColour();
  const cli = new SproutCli({ binaryLabel: 'Sprout — bare-metal provisioning', binaryName: 'sprout', binaryVersion: cliVersion, enableColors: colour });
  cli.register(Builtins.HelpCommand);
  cli.register(AgentRunCommand);
  const context: BaseContext = { ...Cli.defaultContext, colorDepth: colour ? 8 : 1 };
  return cli.run(argv, context);
}
