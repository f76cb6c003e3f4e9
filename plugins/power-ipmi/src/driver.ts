/**
 * The `ipmi` power driver the site agent uses: power state, on/off/soft/cycle and the
 * next boot device through ipmitool. `chassis bootdev` exits 0 even when the BMC refuses
 * it, so the boot flags are read back (`chassis bootparam get 5`) and compared.
 */
import { PowerError, type BootDevice, type PowerActionResult, type PowerDriver, type PowerState, type PowerTarget } from '@sprout/kernel/sdk';
import { invocation, ipmitool, withDeadline, type IpmiCallOptions, type IpmitoolOptions } from './ipmitool.ts';

/** "Chassis Power is on" → on. */
export function parsePowerStatus(stdout: string): 'on' | 'off' | undefined {
  return /Chassis Power is (on|off)\b/i.exec(stdout)?.[1]?.toLowerCase() as 'on' | 'off' | undefined;
}

/**
 * The boot device selector of boot parameter 5 (IPMI 2.0 table 28-14, data byte 2 bits
 * 5:2): PXE, or the disk (default hard drive, or its safe mode); else what it is.
 */
export function parseBootDevice(stdout: string): BootDevice | string | undefined {
  const data = /Boot parameter data:\s*([0-9a-f]{4,})/i.exec(stdout)?.[1];
  if (!data) return undefined;
  const selector = (parseInt(data.slice(2, 4), 16) >> 2) & 0x0f;
  if (selector === 1) return 'network';
  if (selector === 2 || selector === 3) return 'disk';
  return /Boot Device Selector\s*:\s*(.+)/.exec(stdout)?.[1]?.trim() ?? `selector ${selector}`;
}

export function ipmiDriver(tool: IpmitoolOptions = {}): PowerDriver {
  // Each operation, however many ipmitool runs it takes, ends within its call's timeout.
  const run = (target: PowerTarget, command: string[], options: IpmiCallOptions) => ipmitool(target, command, withDeadline(options), tool);
  const label = (target: PowerTarget) => invocation(target, [], { timeoutMs: 1 }, tool).label;

  async function state(target: PowerTarget, options: IpmiCallOptions): Promise<PowerState> {
    const { stdout } = await run(target, ['chassis', 'power', 'status'], options);
    const power = parsePowerStatus(stdout);
    if (!power) throw new PowerError('protocol', `${label(target)}: chassis power status: unexpected answer "${stdout.trim()}"`);
    return power;
  }

  async function power(target: PowerTarget, verb: 'on' | 'off' | 'soft' | 'cycle', options: IpmiCallOptions): Promise<PowerActionResult> {
    await run(target, ['chassis', 'power', verb], options);
    return {};
  }

  return {
    type: 'ipmi',
    state,
    async on(target, given) {
      const options = withDeadline(given);
      if ((await state(target, options)) === 'on') return { note: 'already on' };
      return power(target, 'on', options);
    },
    async off(target, given) {
      const options = withDeadline(given);
      if ((await state(target, options)) === 'off') return { note: 'already off' };
      return power(target, given.soft ? 'soft' : 'off', options);
    },
    async cycle(target, given) {
      const options = withDeadline(given);
      // IPMI leaves a power cycle of a machine that is off to the BMC (many do nothing).
      if ((await state(target, options)) === 'off') return { ...(await power(target, 'on', options)), note: 'was off: powered on' };
      return power(target, 'cycle', options);
    },
    async setNextBoot(target, device, given) {
      const options = withDeadline(given);
      const command = device === 'network' ? ['chassis', 'bootdev', 'pxe'] : ['chassis', 'bootdev', 'disk', 'options=persistent'];
      await run(target, command, options);
      const { stdout } = await run(target, ['chassis', 'bootparam', 'get', '5'], options);
      const now = parseBootDevice(stdout);
      if (now !== device) {
        throw new PowerError(
          'refused',
          `${label(target)}: ${command.join(' ')}: the BMC did not take it: its boot flags say ${now ?? `"${stdout.trim()}"`} instead of ${device}`,
        );
      }
      return {};
    },
    async checkCredentials(target, options) {
      return { state: await state(target, options) };
    },
  };
}
