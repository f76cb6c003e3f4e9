/**
 * The base of every `sprout` command, builtin or contributed by a plugin: a `--json`
 * flag, the API client, and one way of failing — the error's message and each field
 * problem on stderr (or the problem as JSON with --json) and exit code 1.
 */
import { Command, Option } from 'clipanion';
import { ApiClient, ApiError, resolveTarget, type LocalDefaults } from './api-client.ts';

interface Explainable {
  explain(): string;
  code?: string;
  details?: unknown[];
}

export abstract class SproutCommand extends Command {
  json = Option.Boolean('--json', false, { description: 'Print machine-readable JSON' });

  /** Overridden by the CLI to point at the local server's defaults. */
  static localDefaults: () => LocalDefaults | undefined = () => undefined;

  abstract run(): Promise<number | void>;

  async execute(): Promise<number> {
    try {
      return (await this.run()) ?? 0;
    } catch (err) {
      return this.fail(err);
    }
  }

  api(): ApiClient {
    return new ApiClient(resolveTarget(process.env, SproutCommand.localDefaults()));
  }

  /** Prints `value` as JSON with --json, else the human rendering. */
  print(value: unknown, human: () => string): void {
    this.context.stdout.write(this.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
  }

  fail(err: unknown): number {
    if (err instanceof ApiError) {
      if (this.json) this.context.stdout.write(`${JSON.stringify({ status: err.status, ...err.problem }, null, 2)}\n`);
      else this.context.stderr.write(`error: ${err.explain()}\n`);
      return 1;
    }
    const e = err as Partial<Explainable> & Error;
    if (typeof e?.explain === 'function' && typeof e.code === 'string') {
      if (this.json) this.context.stdout.write(`${JSON.stringify({ code: e.code, detail: e.message, errors: e.details ?? [] }, null, 2)}\n`);
      else this.context.stderr.write(`error: ${e.explain()}\n`);
      return 1;
    }
    this.context.stderr.write(`error: ${e?.stack ?? String(err)}\n`);
    return 1;
  }
}
