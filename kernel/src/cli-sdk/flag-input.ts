/**
 * What a flag points at: a file, or standard input as `-`, and secrets that can come
 * from a flag, a file, standard input or an environment variable (a flag's value stays
 * visible in `ps` for the process's life; the others do not). A file that cannot be read
 * is a one-line error naming the flag and the path, never a stack trace.
 */
import { readFileSync, statSync } from 'node:fs';
import { SproutError } from '../errors/sprout-error.ts';

/** Bad input given on the command line: printed as one line that starts with the flag. */
export class FlagInputError extends SproutError {
  constructor(
    readonly flag: string,
    problem: string,
  ) {
    super('SPROUT_ERR_VALIDATION', `${flag} ${problem}`, { details: [{ field: flag, message: problem }] });
    this.name = 'FlagInputError';
  }

  override explain(): string {
    return this.message;
  }
}

/** The text of the file `path` given to `flag`; `-` reads standard input to its end. */
export function readFlagFile(flag: string, path: string): string {
  if (path === '') throw new FlagInputError(flag, 'needs a file path (or - for standard input)');
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new FlagInputError(flag, `${path === '-' ? 'standard input' : path}: ${whyUnreadable(err)}`);
  }
}

function whyUnreadable(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a folder, not a file';
  if (code === 'EAGAIN') return 'nothing to read (standard input is not a pipe or a file)';
  return (err as Error).message;
}

export interface SecretSources {
  /** The flag that takes the secret itself (`--join-token`); `-` there reads standard input. */
  flag: string;
  value?: string;
  /** The flag that takes a file holding it (`--join-token-file`); `-` is standard input. */
  fileFlag: string;
  file?: string;
  /** The environment variable that may hold it. */
  envVar?: string;
  env?: NodeJS.ProcessEnv;
  /** Told when the file can be read by others than its owner. */
  warn?: (line: string) => void;
}

/**
 * The secret from the first source given: the flag, its file flag, the environment
 * variable; undefined when none is. Surrounding whitespace (a file's last newline) is
 * dropped; an empty secret is an error naming where it came from.
 */
export function readSecretOption(sources: SecretSources): string | undefined {
  const { flag, value, fileFlag, file } = sources;
  if (value !== undefined && file !== undefined) throw new FlagInputError(flag, `and ${fileFlag} are both given; use one`);
  if (value === '-') return nonEmpty(flag, 'standard input', readFlagFile(flag, '-'));
  if (value !== undefined) return nonEmpty(flag, 'the value', value);
  if (file !== undefined) {
    const text = readFlagFile(fileFlag, file);
    if (file !== '-') warnIfShared(fileFlag, file, sources.warn);
    return nonEmpty(fileFlag, file === '-' ? 'standard input' : file, text);
  }
  const fromEnv = sources.envVar ? (sources.env ?? process.env)[sources.envVar] : undefined;
  if (fromEnv !== undefined && fromEnv !== '') return nonEmpty(sources.envVar!, 'the variable', fromEnv);
  return undefined;
}

function nonEmpty(flag: string, where: string, text: string): string {
  const secret = text.trim();
  if (secret === '') throw new FlagInputError(flag, `${where === 'the value' || where === 'the variable' ? 'is empty' : `${where}: is empty`}`);
  return secret;
}

function warnIfShared(flag: string, path: string, warn: SecretSources['warn']): void {
  if (!warn) return;
  const info = statSync(path, { throwIfNoEntry: false });
  if (info?.isFile() && (info.mode & 0o077) !== 0) {
    warn(`warning: ${flag} ${path} can be read by others (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it`);
  }
}
