/**
 * A machine's BMC as the control plane keeps it: `bmc.type` must be a power driver some
 * plugin provides (`manual`, the no-BMC driver, is always known), the driver says whether
 * an address is needed and how one is checked, and the password is sealed into
 * `machines.bmc_secret` — never into the `bmc` JSON every route, audit record and event
 * shows. One place for these rules, used by create, update and import alike.
 *
 * On update the stored password is kept when the new `bmc` omits `password`, unless the
 * driver type changes (credentials of an IPMI BMC mean nothing to a Redfish one);
 * `password: null` clears it, and `bmc: null` clears the BMC and its password.
 */
import type { PowerDriverInfo } from '../../capabilities/power.ts';
import { SproutError, type ProblemDetail } from '../../errors/index.ts';
import type { CredentialSealer } from './bmc-credentials.ts';
import type { BmcInput } from './schemas.ts';

/** The driver of a machine with no BMC: a person presses the button. Known even when no power plugin is installed. */
export const manualDriver: PowerDriverInfo = { type: 'manual', description: 'A person works the power by hand', needsAddress: false };

/** The BMC record as stored in `machines.bmc`: no password. */
export type StoredBmc = Omit<BmcInput, 'password'>;

/** What a create, update or import writes: the `bmc` JSON and the sealed secret (undefined: leave the stored one). */
export interface BmcWrite {
  bmc: StoredBmc | null;
  secret: string | null | undefined;
}

export function storedBmc(input: BmcInput): StoredBmc {
  const { password: _password, ...rest } = input;
  return rest;
}

/** The BMC every route shows. */
export function bmcView(bmc: Record<string, unknown> | null, credentialsSet: boolean) {
  if (!bmc) return null;
  return {
    type: String(bmc.type),
    address: typeof bmc.address === 'string' ? bmc.address : null,
    username: typeof bmc.username === 'string' ? bmc.username : null,
    insecure: bmc.insecure === true,
    options: (bmc.options as Record<string, unknown> | undefined) ?? {},
    credentialsSet,
  };
}

/** Field problems of a BMC against the known drivers (field names relative to the machine: `bmc/type`, `bmc/address`). */
export function bmcProblems(bmc: BmcInput, drivers: PowerDriverInfo[], prefix = 'bmc'): ProblemDetail[] {
  const known = drivers.some((d) => d.type === manualDriver.type) ? drivers : [manualDriver, ...drivers];
  const driver = known.find((d) => d.type === bmc.type);
  if (!driver) {
    return [
      {
        field: `${prefix}/type`,
        message: `no power driver "${bmc.type}"; known: ${known
          .map((d) => d.type)
          .sort()
          .join(', ')}`,
      },
    ];
  }
  if (!bmc.address) return driver.needsAddress ? [{ field: `${prefix}/address`, message: `is required for bmc type ${bmc.type}` }] : [];
  const problem = driver.checkAddress?.(bmc.address);
  return problem ? [{ field: `${prefix}/address`, message: problem }] : [];
}

export class BmcRules {
  constructor(private readonly deps: { drivers: () => Promise<PowerDriverInfo[]>; sealer: CredentialSealer }) {}

  drivers(): Promise<PowerDriverInfo[]> {
    return this.deps.drivers();
  }

  /** Throws a 400 naming the fields when the BMC is not one a site could drive. */
  async check(bmc: BmcInput, drivers?: PowerDriverInfo[]): Promise<void> {
    const problems = bmcProblems(bmc, drivers ?? (await this.deps.drivers()));
    if (problems.length > 0)
      throw new SproutError('SPROUT_ERR_VALIDATION', `bmc is invalid: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, { details: problems });
  }

  /**
   * What to write for `input` on machine `machineId` whose BMC was `previous` (undefined:
   * a new machine). Already checked with `check`.
   */
  write(machineId: string, input: BmcInput | null, previous?: Record<string, unknown> | null): BmcWrite {
    if (input === null) return { bmc: null, secret: null };
    const bmc = storedBmc(input);
    if (typeof input.password === 'string') return { bmc, secret: this.deps.sealer.seal(machineId, input.password) };
    if (input.password === null) return { bmc, secret: null };
    if (previous === undefined) return { bmc, secret: null };
    return { bmc, secret: previous && previous.type === input.type ? undefined : null };
  }
}
