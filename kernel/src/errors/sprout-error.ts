/**
 * SproutError is an error as a value: a code from the table, a message for humans and
 * structured context (machine id, plugin, field…) for programs. The HTTP layer turns it
 * into problem+json; the CLI prints its message and details.
 */
import { errorCodes, type ErrorCode } from './codes.ts';

export interface ProblemDetail {
  /** Where the problem is, e.g. a config key `capabilities.ipam.use` or a body field `/hostname`. */
  field?: string;
  message: string;
  [extra: string]: unknown;
}

export class SproutError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ProblemDetail[];
  readonly context: Record<string, unknown>;
  /** Extra members of its problem+json (RFC 9457 extensions), e.g. a BMC failure's `reason`. */
  readonly extensions: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: ProblemDetail[]; context?: Record<string, unknown>; extensions?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'SproutError';
    this.code = code;
    this.status = errorCodes[code].status;
    this.details = options.details ?? [];
    this.context = options.context ?? {};
    this.extensions = options.extensions ?? {};
  }

  get title(): string {
    return errorCodes[this.code].title;
  }

  /** Message plus one line per detail: what a CLI user or a log reader needs. */
  explain(): string {
    const lines = [this.message];
    for (const d of this.details) lines.push(`  - ${d.field ? `${d.field}: ` : ''}${d.message}`);
    return lines.join('\n');
  }
}

export function isSproutError(err: unknown, code?: ErrorCode): err is SproutError {
  return err instanceof SproutError && (code === undefined || err.code === code);
}

/** What a provider answers for an operation it does not offer: explicit, never a silent no-op. */
export function notImplemented(pluginId: string, operation: string, hint?: string): SproutError {
  return new SproutError('SPROUT_ERR_NOT_IMPLEMENTED', `plugin ${pluginId} does not implement ${operation}${hint ? `: ${hint}` : ''}`, {
    context: { plugin: pluginId, operation },
  });
}
