/**
 * Runs power operations for the agent's tasks: picks the driver by the machine's
 * `bmc.type` among the installed ones (plugins' `power` parts), bounds every call by
 * the work item's `callTimeoutMs`, and tells the control plane (`power.state`) each
 * time it learned a machine's power state. A driver's PowerError travels on untouched,
 * so the step fails with the BMC's own words.
 */
import { PowerError, type PowerCallOptions, type PowerDriver, type PowerState, type PowerTarget, type WorkItem } from '@sprout/kernel/sdk';

/** What a power work item carries (see the power wire contract). */
export interface PowerWork {
  target: PowerTarget;
  timeoutMs: number;
}

const defaultCallTimeoutMs = 60_000;

/** The power target and call timeout of a work item; an item without one cannot be powered. */
export function powerWorkOf(item: WorkItem): PowerWork {
  const target = item.payload.power as PowerTarget | undefined;
  if (!target?.bmc?.type || typeof target.machineId !== 'string') {
    throw new Error(
      `work item ${item.id} (${String(item.payload.step ?? item.kind)}) carries no power target: the control plane is older than this agent or the machine is gone`,
    );
  }
  const timeoutMs = Number(item.payload.callTimeoutMs);
  return { target, timeoutMs: Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : defaultCallTimeoutMs };
}

export type PowerStateReport = (payload: { machineId: string; state: PowerState; error?: string | null }) => void;

/** The action label of a driver call (metrics, log), from the phrase its caller names it by. */
const actionOf: Record<string, string> = {
  'checking the BMC credentials of': 'check-credentials',
  'reading the power state of': 'state',
  'powering on': 'on',
  'powering off': 'off',
  'power-cycling': 'cycle',
  'setting the next boot to the network on': 'next-boot-network',
  'setting the next boot to disk on': 'next-boot-disk',
};

/** One driver call that ended: counted in the agent's metrics and logged. */
export interface PowerCallOutcome {
  driver: string;
  action: string;
  outcome: 'succeeded' | 'failed';
  machine: string;
  hostname: string;
  error?: string;
}

export class PowerRunner {
  constructor(
    private readonly drivers: ReadonlyMap<string, PowerDriver>,
    private readonly observe: (call: PowerCallOutcome) => void = () => undefined,
  ) {}

  /** The `bmc.type`s this agent can power. */
  types(): string[] {
    return [...this.drivers.keys()].sort();
  }

  driverFor(target: PowerTarget): PowerDriver {
    const driver = this.drivers.get(target.bmc.type);
    if (!driver) {
      throw new PowerError(
        'unsupported',
        `no power driver for bmc type "${target.bmc.type}" (machine ${target.hostname}) on this agent; installed: ${this.types().join(', ') || 'none'} — install the plugin that provides it next to the agent`,
      );
    }
    return driver;
  }

  /**
   * One driver call, failed with PowerError('timeout') when it takes longer than
   * `timeoutMs` (the driver is asked to stop through the signal). A failure is reported
   * as the machine's power error when `report` is given.
   */
  async call<T>(work: PowerWork, what: string, op: (driver: PowerDriver, options: PowerCallOptions) => Promise<T>, report?: PowerStateReport): Promise<T> {
    const { target, timeoutMs } = work;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const where = target.bmc.address ? ` at ${target.bmc.address}` : '';
        const err = new PowerError(
          'timeout',
          `${what} ${target.hostname}: the ${target.bmc.type} BMC${where} did not answer within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}`,
        );
        controller.abort(err);
        reject(err);
      }, timeoutMs);
    });
    try {
      const driver = this.driverFor(target);
      const result = await Promise.race([op(driver, { timeoutMs, signal: controller.signal }), timeout]);
      this.observe({ driver: target.bmc.type, action: actionOf[what] ?? what, outcome: 'succeeded', machine: target.machineId, hostname: target.hostname });
      return result;
    } catch (err) {
      this.observe({
        driver: target.bmc.type,
        action: actionOf[what] ?? what,
        outcome: 'failed',
        machine: target.machineId,
        hostname: target.hostname,
        error: (err as Error).message,
      });
      report?.({ machineId: target.machineId, state: 'unknown', error: (err as Error).message });
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}
