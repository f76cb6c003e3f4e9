/**
 * The BMC flags `machine create` and `machine update` share, and the `bmc` body they
 * make. The password never rides on the command line (it would show in `ps`): it comes
 * from --bmc-password-file FILE (or - for standard input) or SPROUT_BMC_PASSWORD.
 */
import { Option, SproutCommand, readSecretOption, FlagInputError } from '@sprout/kernel/cli';

/** `machine create` and `machine update`: the commands that take a BMC. */
export abstract class BmcFlagsCommand extends SproutCommand {
  bmcType = Option.String('--bmc-type', { description: 'Power driver: ipmi, redfish, manual, lab…' });
  bmcAddress = Option.String('--bmc-address', { description: 'BMC host, host:port or URL' });
  bmcUsername = Option.String('--bmc-username', { description: 'BMC user name' });
  bmcPasswordFile = Option.String('--bmc-password-file', {
    description: 'File holding the BMC password or Redfish token; - reads standard input (or set SPROUT_BMC_PASSWORD)',
  });
  bmcInsecure = Option.Boolean('--bmc-insecure', { description: "Accept the BMC's self-signed TLS certificate" });
  bmcOptions = Option.Array('--bmc-option', { description: 'Driver setting key=value, repeatable (e.g. cipherSuite=3)' });
}

export interface BmcFlagValues {
  bmcType?: string;
  bmcAddress?: string;
  bmcUsername?: string;
  bmcPasswordFile?: string;
  bmcInsecure?: boolean;
  bmcOptions?: string[];
}

/** The password from its file or the environment; undefined when neither is given. */
export function bmcPassword(flags: BmcFlagValues, warn: (line: string) => void): string | undefined {
  return readSecretOption({ flag: '--bmc-password-file', fileFlag: '--bmc-password-file', file: flags.bmcPasswordFile, envVar: 'SPROUT_BMC_PASSWORD', warn });
}

/** key=value pairs; numbers and true/false become numbers and booleans. */
export function bmcOptionsOf(pairs: string[] | undefined): Record<string, string | number | boolean> | undefined {
  if (!pairs) return undefined;
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new FlagInputError('--bmc-option', `${pair}: must be key=value`);
      const [key, raw] = [pair.slice(0, at), pair.slice(at + 1)];
      return [key, raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw];
    }),
  );
}

/** Whether any BMC flag was given. */
export const anyBmcFlag = (f: BmcFlagValues) =>
  [f.bmcType, f.bmcAddress, f.bmcUsername, f.bmcPasswordFile, f.bmcInsecure, f.bmcOptions].some((v) => v !== undefined);

/**
 * The `bmc` body: the flags over `current` (the machine's BMC as shown, for update:
 * PATCH replaces the whole record). The stored password is kept by the server unless
 * the type changes.
 */
export function bmcBody(
  flags: BmcFlagValues,
  password: string | undefined,
  current?: { type: string; address: string | null; username: string | null; insecure: boolean; options: Record<string, unknown> } | null,
) {
  const type = flags.bmcType ?? current?.type;
  if (!type) throw new FlagInputError('--bmc-type', 'is required with the other --bmc-* flags (the machine has no BMC yet)');
  const address = flags.bmcAddress ?? (type === current?.type ? current?.address : undefined) ?? undefined;
  const username = flags.bmcUsername ?? (type === current?.type ? current?.username : undefined) ?? undefined;
  const options =
    bmcOptionsOf(flags.bmcOptions) ??
    (type === current?.type && current && Object.keys(current.options).length ? (current.options as Record<string, string | number | boolean>) : undefined);
  const insecure = flags.bmcInsecure ?? (type === current?.type ? current?.insecure : undefined);
  return {
    type,
    ...(address ? { address } : {}),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(insecure ? { insecure } : {}),
    ...(options ? { options } : {}),
  };
}
