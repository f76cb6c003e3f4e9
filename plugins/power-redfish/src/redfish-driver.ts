/**
 * The `redfish` power driver: reads a ComputerSystem's PowerState, powers it with the
 * system's ComputerSystem.Reset action (a ResetType the system says it allows) and sets
 * its next boot with a Boot override, read back to be sure the BMC applied it.
 */
import {
  PowerError,
  type BootDevice,
  type PowerActionResult,
  type PowerCallOptions,
  type PowerDriver,
  type PowerState,
  type PowerTarget,
} from '@sprout/kernel/sdk';
import { BmcLink } from './bmc-link.ts';
import { RedfishSessions } from './sessions.ts';

interface ComputerSystem {
  PowerState?: string;
  Boot?: { BootSourceOverrideTarget?: string; BootSourceOverrideEnabled?: string; 'BootSourceOverrideTarget@Redfish.AllowableValues'?: string[] };
  Actions?: { '#ComputerSystem.Reset'?: { target?: string; 'ResetType@Redfish.AllowableValues'?: string[] } };
}

interface System {
  path: string;
  body: ComputerSystem;
}

/** Redfish PowerState → Sprout's; a machine on its way somewhere counts as there. */
const powerStates: Record<string, PowerState> = { On: 'on', PoweringOn: 'on', Off: 'off', PoweringOff: 'off' };

/** The Boot override for each next-boot device: PXE once, the disk from now on. */
const bootOverrides: Record<BootDevice, { BootSourceOverrideTarget: string; BootSourceOverrideEnabled: string }> = {
  network: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' },
  disk: { BootSourceOverrideTarget: 'Hdd', BootSourceOverrideEnabled: 'Continuous' },
};

export function redfishDriver(): PowerDriver {
  const sessions = new RedfishSessions();

  async function system(link: BmcLink): Promise<System> {
    let path = link.bmc.options?.systemPath;
    if (typeof path !== 'string' || !path) {
      const what = 'find the system (GET /redfish/v1/Systems)';
      const systems = await sessions.request(link, what, { method: 'GET', path: '/redfish/v1/Systems' });
      const first = (systems.body as { Members?: Array<{ '@odata.id'?: unknown }> } | undefined)?.Members?.[0]?.['@odata.id'];
      if (typeof first !== 'string') throw link.error('protocol', what, 'the Systems collection has no members; set bmc.options.systemPath');
      path = first;
    }
    const reply = await sessions.request(link, `read the system (GET ${path})`, { method: 'GET', path });
    if (typeof reply.body !== 'object' || reply.body === null)
      throw link.error('protocol', `read the system (GET ${path})`, `${reply.statusLine} without a JSON ComputerSystem`);
    return { path, body: reply.body as ComputerSystem };
  }

  function stateOf(s: System): PowerState {
    return powerStates[s.body.PowerState ?? ''] ?? 'unknown';
  }

  /** POSTs ComputerSystem.Reset with the first of `preferred` the system allows. */
  async function reset(link: BmcLink, s: System, preferred: string[]): Promise<string> {
    const action = s.body.Actions?.['#ComputerSystem.Reset'];
    const allowed = action?.['ResetType@Redfish.AllowableValues'];
    const type = Array.isArray(allowed) ? preferred.find((t) => allowed.includes(t)) : preferred[0];
    if (!type)
      throw new PowerError(
        'unsupported',
        `${link.name}: ComputerSystem.Reset ${preferred.join(' or ')}: the system allows only ResetType ${allowed?.join(', ')}`,
      );
    const target = action?.target ?? `${s.path}/Actions/ComputerSystem.Reset`;
    await sessions.request(link, `ComputerSystem.Reset ${type}`, { method: 'POST', path: target, body: { ResetType: type } });
    return type;
  }

  return {
    type: 'redfish',

    async state(target: PowerTarget, options: PowerCallOptions): Promise<PowerState> {
      return stateOf(await system(new BmcLink(target.bmc, options)));
    },

    async checkCredentials(target, options) {
      return { state: await this.state(target, options) };
    },

    async on(target, options): Promise<PowerActionResult> {
      const link = new BmcLink(target.bmc, options);
      const s = await system(link);
      if (stateOf(s) === 'on') return { note: `already on (PowerState ${s.body.PowerState})` };
      return { note: `ComputerSystem.Reset ${await reset(link, s, ['On'])}` };
    },

    async off(target, options): Promise<PowerActionResult> {
      const link = new BmcLink(target.bmc, options);
      const s = await system(link);
      if (stateOf(s) === 'off') return { note: `already off (PowerState ${s.body.PowerState})` };
      return { note: `ComputerSystem.Reset ${await reset(link, s, options.soft ? ['GracefulShutdown'] : ['ForceOff'])}` };
    },

    async cycle(target, options): Promise<PowerActionResult> {
      const link = new BmcLink(target.bmc, options);
      const s = await system(link);
      const types = stateOf(s) === 'off' ? ['On'] : ['PowerCycle', 'ForceRestart'];
      return { note: `ComputerSystem.Reset ${await reset(link, s, types)}` };
    },

    async setNextBoot(target, device, options): Promise<PowerActionResult> {
      const link = new BmcLink(target.bmc, options);
      const s = await system(link);
      const wanted = bootOverrides[device];
      const what = `set next boot ${wanted.BootSourceOverrideTarget} ${wanted.BootSourceOverrideEnabled} (PATCH ${s.path})`;
      const offered = s.body.Boot?.['BootSourceOverrideTarget@Redfish.AllowableValues'];
      if (Array.isArray(offered) && !offered.includes(wanted.BootSourceOverrideTarget)) {
        throw new PowerError('unsupported', `${link.name}: ${what}: the system offers BootSourceOverrideTarget ${offered.join(', ')}`);
      }
      await sessions.request(link, what, { method: 'PATCH', path: s.path, body: { Boot: wanted } });
      const boot = (await system(link)).body.Boot;
      if (boot?.BootSourceOverrideTarget !== wanted.BootSourceOverrideTarget || boot?.BootSourceOverrideEnabled !== wanted.BootSourceOverrideEnabled) {
        throw link.error(
          'refused',
          what,
          `the BMC accepted the change but reads back BootSourceOverrideTarget ${boot?.BootSourceOverrideTarget}, BootSourceOverrideEnabled ${boot?.BootSourceOverrideEnabled}`,
        );
      }
      return { note: `next boot ${wanted.BootSourceOverrideTarget} (${wanted.BootSourceOverrideEnabled})` };
    },
  };
}
