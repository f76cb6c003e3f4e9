/**
 * The base of every `sprout` command, builtin or contributed by a plugin: a `--json`
 * flag, the API client, and one way of failing — the error's message and each field
 * problem on stderr (or the problem as JSON with --json) and exit code 1, URLs in it
 * masked, and no stack trace unless SPROUT_DEBUG is set.
 */
import { Command, Option } from 'clipanion';
import { ApiClient, ApiError, resolveTarget, type LocalDefaults } from './api-client.ts';
import { maskUrls } from '../config/mask-secrets.ts';

interface Explainable {
  explain(): string;
  code?: string;
  details?: unknown[];
}

export abstract class SproutCommand extends Command {
  json = Option.Boolean('--json', false, { description: 'Print machine-readable JSON' });
  ca = Option.String('--ca', {
    description: "PEM file of a private CA to trust for an https:// server, on top of the system store (default: $SPROUT_CA, else the profile's)",
  });

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
    return new ApiClient(resolveTarget(process.env, SproutCommand.localDefaults(), this.ca));
  }

  /** Where the API URL and token came from, for hints (never throws). */
  private targetSource(): string {
    try {
      return resolveTarget(process.env, SproutCommand.localDefaults()).source;
    } catch {
      return 'nowhere';
    }
  }

  /** Prints `value` as JSON with --json, else the human rendering. */
  print(value: unknown, human: () => string): void {
    this.context.stdout.write(this.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
  }

  fail(err: unknown): number {
    const stdout = (text: string) => this.context.stdout.write(maskUrls(text));
    const stderr = (text: string) => this.context.stderr.write(maskUrls(text));
    if (err instanceof ApiError) {
      if (this.json) stdout(`${JSON.stringify({ status: err.status, ...err.problem }, null, 2)}\n`);
      else stderr(`error: ${err.explain()}\n${err.status === 401 ? unauthenticatedHint(this.targetSource()) : ''}`);
      return 1;
    }
    const e = err as Partial<Explainable> & Error;
    if (typeof e?.explain === 'function' && typeof e.code === 'string') {
      if (this.json) stdout(`${JSON.stringify({ code: e.code, detail: e.message, errors: e.details ?? [] }, null, 2)}\n`);
      else stderr(`error: ${e.explain()}\n`);
      return 1;
    }
    // An error without a code is still an answer to the operator, not a crash report.
    stderr(`error: ${(process.env.SPROUT_DEBUG ? e?.stack : e?.message) ?? String(err)}\n`);
    return 1;
  }
}

/** What to do about a 401: the token in use came from somewhere the operator can fix. */
function unauthenticatedHint(source: string): string {
  return (
    `hint: the token came from ${source}; log in with \`sprout login --url <api-url> --token-file <file>\`, ` +
    'or for a lab run `eval "$(sprout lab status --env)"`\n'
  );
}
