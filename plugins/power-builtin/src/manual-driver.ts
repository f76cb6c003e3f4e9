/**
 * The manual power driver: a person is the BMC. Every operation answers what that
 * person has to do (`awaitsPerson`), naming the machine; the power state is never known.
 * The next boot device is not the driver's business either: the site agent's PXE answers
 * (the boot intent) decide whether the machine boots the installer or its disk.
 */
import type { PowerDriver, PowerTarget } from '@sprout/kernel/sdk';

const by = '(manual power driver)';

export const manualDriver: PowerDriver = {
  type: 'manual',
  manual: true,
  state: async () => 'unknown',
  checkCredentials: async () => ({ state: 'unknown' }),
  on: async (target: PowerTarget) => ({ awaitsPerson: `waiting for someone to power on ${target.hostname} ${by}` }),
  cycle: async (target: PowerTarget) => ({ awaitsPerson: `waiting for someone to power on or restart ${target.hostname} ${by}` }),
  off: async (target: PowerTarget) => ({ awaitsPerson: `power off ${target.hostname} by hand ${by}` }),
  setNextBoot: async (target: PowerTarget, device) => ({
    note: `${target.hostname} boots from ${device === 'network' ? 'the network' : 'its disk'} as this agent's PXE answers decide ${by}`,
  }),
};
