/**
 * The iPXE script a machine gets from its boot intent: the installer for commissioning
 * and deployment (kernel, initrd, metadata URL on the command line), its local disk for
 * `local`, and for anyone else a script that prints why it will not boot.
 */
import type { SiteDesiredState } from '@sprout/kernel';

type BootIntent = NonNullable<SiteDesiredState['bootIntents']>[number];

export interface ScriptInput {
  intent: BootIntent | undefined;
  mac: string;
  /** Base URL machines reach this service at, e.g. http://198.18.0.2:8080 */
  baseUrl: string;
  installer: { kernel: string; initrd: string; cmdline: string };
  /** The per-boot token of the step waiting for this machine, if one is. */
  token?: string;
}

export function ipxeScript({ intent, mac, baseUrl, installer, token }: ScriptInput): { script: string; refusal?: string } {
  if (!intent) {
    const refusal = `no boot intent for ${mac}: this machine is unknown here or not being provisioned`;
    return { refusal, script: refusalScript(refusal) };
  }
  if (intent.intent === 'local') {
    // OVMF goes on to the next boot option on `exit 1`; SeaBIOS on a plain exit.
    return { script: `#!ipxe\necho Sprout: ${intent.hostname} boots from its local disk\n${intent.bootMode === 'uefi' ? 'exit 1' : 'exit'}\n` };
  }
  if (!token) {
    const refusal = `${intent.hostname} is to ${intent.intent}, but this agent has not been given its step yet`;
    return { refusal, script: refusalScript(refusal) };
  }
  const metadata = `${baseUrl}/metadata/${token}`;
  const kernelUrl = `${baseUrl}/artifacts/${installer.kernel}`;
  const initrdUrl = `${baseUrl}/artifacts/${installer.initrd}`;
  const args = [`initrd=${basename(installer.initrd)}`, installer.cmdline, `sprout.metadata=${metadata}`, `sprout.intent=${intent.intent}`].filter(Boolean).join(' ');
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

function basename(path: string): string {
  return path.split('/').pop() ?? path;
}
