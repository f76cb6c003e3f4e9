/**
 * The iPXE script a machine gets from its boot intent: the installer for commissioning
 * and deployment (kernel, initrd, metadata URL on the command line), its local disk for
 * `local`, a short wait-and-ask-again for a machine whose step has not reached this agent
 * yet, and for anyone else a script that prints why it will not boot.
 */
import type { SiteDesiredState } from '@sprout/kernel/sdk';

type BootIntent = NonNullable<SiteDesiredState['bootIntents']>[number];

export interface ScriptInput {
  intent: BootIntent | undefined;
  mac: string;
  /** Base URL machines reach this service at, e.g. http://198.18.0.2:8080 */
  baseUrl: string;
  installer: { kernel: string; initrd: string; cmdline: string };
  /** The per-boot token of the step waiting for this machine, if one is. */
  token?: string;
  /** How many wait scripts this boot has already had (the `waited` the last one chained with). */
  waited?: number;
}

/** How long a request for the script of a machine whose step is on its way is held before it gets the wait script. */
export const STEP_HOLD_MS = 2_000;
/** Seconds a machine whose step is on its way waits in iPXE before asking for its script again. */
export const STEP_WAIT_SECONDS = 3;
/** Waits before the machine is refused after all: 5 minutes (each wait is a hold and a sleep), the power-on step's own timeout. */
export const STEP_WAIT_LIMIT = 300 / (STEP_HOLD_MS / 1000 + STEP_WAIT_SECONDS);

export function ipxeScript({ intent, mac, baseUrl, installer, token, waited = 0 }: ScriptInput): { script: string; refusal?: string; waiting?: string } {
  if (!intent) {
    const refusal = `no boot intent for ${mac}: this machine is unknown here or not being provisioned`;
    return { refusal, script: refusalScript(refusal) };
  }
  if (intent.intent === 'local') {
    // OVMF goes on to the next boot option on `exit 1`; SeaBIOS on a plain exit.
    return { script: `#!ipxe\necho Sprout: ${intent.hostname} boots from its local disk\n${intent.bootMode === 'uefi' ? 'exit 1' : 'exit'}\n` };
  }
  if (!token) {
    // Powered on before its step arrived (the usual race when a rack is powered on with the
    // request): it stays in iPXE and asks again, rather than exiting into a whole new PXE
    // boot — a DHCP exchange and a TFTP transfer every few seconds per machine.
    // Bounded: an intent whose workflow ended without the agent hearing of it would
    // otherwise keep a powered-on machine asking forever.
    if (waited >= STEP_WAIT_LIMIT) {
      const refusal = `${intent.hostname} is to ${intent.intent}, but its step has not reached this agent in ${(STEP_WAIT_LIMIT * (STEP_HOLD_MS / 1000 + STEP_WAIT_SECONDS)) / 60} minutes`;
      return { refusal, script: refusalScript(refusal) };
    }
    const waiting = `${intent.hostname} is to ${intent.intent}; waiting for this agent to be given its step`;
    return { waiting, script: waitingScript(waiting, `${baseUrl}/boot/ipxe?mac=${mac}&waited=${waited + 1}`) };
  }
  const metadata = `${baseUrl}/metadata/${token}`;
  const kernelUrl = `${baseUrl}/artifacts/${installer.kernel}`;
  const initrdUrl = `${baseUrl}/artifacts/${installer.initrd}`;
  const args = [`initrd=${basename(installer.initrd)}`, installer.cmdline, `sprout.metadata=${metadata}`, `sprout.intent=${intent.intent}`]
    .filter(Boolean)
    .join(' ');
  return {
    script: [
      '#!ipxe',
      `echo Sprout: ${intent.intent} of ${intent.hostname} (workflow ${intent.workflow ?? '-'})`,
      `kernel ${kernelUrl} ${args}`,
      `initrd ${initrdUrl}`,
      'boot',
      '',
    ].join('\n'),
  };
}

function refusalScript(reason: string): string {
  return `#!ipxe\necho Sprout will not boot this machine: ${reason.replace(/[\r\n]/g, ' ')}\nsleep 10\nexit\n`;
}

function waitingScript(reason: string, scriptUrl: string): string {
  return `#!ipxe\necho Sprout: ${reason.replace(/[\r\n]/g, ' ')}\nsleep ${STEP_WAIT_SECONDS}\nchain --replace --autofree ${scriptUrl}\n`;
}

function basename(path: string): string {
  return path.split('/').pop() ?? path;
}
