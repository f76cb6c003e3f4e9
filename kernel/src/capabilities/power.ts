/**
 * Power: how a site agent works a machine's power and next boot device through its BMC
 * (IPMI, Redfish), a simulator's switch (lab) or a person (manual). Drivers run in the
 * site agent only — BMCs live on site networks and the control plane never talks to
 * one. A driver plugin provides two halves:
 *
 * - control plane: `ctx.provide(powerCapability, () => ({ type: 'ipmi', … }))`, so the
 *   kernel knows the `bmc.type`s it may accept and how to check a BMC address;
 * - agent: `agent: async () => ({ power: { ipmi: driver } })`, the driver itself.
 *
 * The driver is chosen per machine by `bmc.type` (`manual` when a machine has no BMC).
 */
import { defineCapability } from './define-capability.ts';

export type PowerState = 'on' | 'off' | 'unknown';
export type BootDevice = 'network' | 'disk';

/**
 * What a driver needs to reach one machine's BMC. The password (or Redfish token) is
 * decrypted by the control plane only into the work item that carries this: never
 * logged, never reported back.
 */
export interface BmcAccess {
  /** The driver: `ipmi`, `redfish`, `manual`, `lab`, or a plugin's own. */
  type: string;
  /** Host, host:port or URL, as the driver documents it. Absent for `manual`. */
  address?: string;
  username?: string;
  password?: string;
  /** Accept a BMC's self-signed TLS certificate (Redfish): only when the machine's BMC record says so. */
  insecure?: boolean;
  /** Driver-specific settings (`cipherSuite` for IPMI, `systemPath` for Redfish). */
  options?: Record<string, string | number | boolean>;
}

/** One machine as a power driver sees it. */
export interface PowerTarget {
  machineId: string;
  hostname: string;
  /** The machine's interface MACs, lower-case, colon-separated; the PXE one first. */
  macs: string[];
  bmc: BmcAccess;
}

/**
 * The work item payload keys that carry opened credentials: a power step's or command's
 * `power` target, a poll's `targets`. Dropped from every stored copy of a work item once
 * it is settled (the kernel's outbox; a transport's own queue).
 */
export const powerCredentialKeys = ['power', 'targets'] as const;

export interface PowerCallOptions {
  /** The call fails with `PowerError('timeout')` after this long (a BMC that never answers). */
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * What a power operation did. `awaitsPerson` means the driver cannot do it itself (the
 * manual driver): the agent shows the message and waits for the machine to be seen
 * (its PXE request) instead.
 */
export interface PowerActionResult {
  awaitsPerson?: string;
  /** Anything worth a line in the step's log (e.g. "already on"). */
  note?: string;
}

export type PowerErrorReason = 'auth' | 'unreachable' | 'timeout' | 'refused' | 'unsupported' | 'protocol';

/**
 * A failed power operation. `message` carries the BMC's own words (ipmitool's stderr,
 * Redfish's `error.message` or HTTP status line), prefixed with what was being done.
 */
export class PowerError extends Error {
  constructor(
    readonly reason: PowerErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'PowerError';
  }
}

export interface PowerDriver {
  /** Equals the `bmc.type` it serves. */
  readonly type: string;
  /** True when a person works the power (manual): operations answer `awaitsPerson`. */
  readonly manual?: boolean;
  state(target: PowerTarget, options: PowerCallOptions): Promise<PowerState>;
  on(target: PowerTarget, options: PowerCallOptions): Promise<PowerActionResult>;
  /** Hard off by default; `soft` asks the OS to shut down (ACPI) and resolves when the BMC accepted it. */
  off(target: PowerTarget, options: PowerCallOptions & { soft?: boolean }): Promise<PowerActionResult>;
  /** Off then on (a reset); a machine that is off is powered on. */
  cycle(target: PowerTarget, options: PowerCallOptions): Promise<PowerActionResult>;
  /** `network`: PXE on the next boot only; `disk`: the disk from the next boot on. */
  setNextBoot(target: PowerTarget, device: BootDevice, options: PowerCallOptions): Promise<PowerActionResult>;
  /** Logs in and reads the power state: fails with `PowerError('auth')` on wrong credentials. */
  checkCredentials(target: PowerTarget, options: PowerCallOptions): Promise<{ state: PowerState }>;
}

/** The control-plane half of a power driver plugin: which `bmc.type` it serves and how its address is checked. */
export interface PowerDriverInfo {
  type: string;
  description: string;
  /** Whether a machine of this type needs `bmc.address` (and credentials) to be powered. */
  needsAddress: boolean;
  /** A problem with `bmc.address` (e.g. "must be host or host:port"), or undefined when it is fine. */
  checkAddress?(address: string): string | undefined;
}

export const powerCapability = defineCapability<PowerDriverInfo>({
  id: 'power',
  cardinality: 'many',
  description: 'Power drivers (IPMI, Redfish, manual, lab) the site agents use to power machines',
});
