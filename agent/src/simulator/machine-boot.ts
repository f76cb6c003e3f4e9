/**
 * One PXE boot of a simulated machine, in the order real firmware does it: DHCP as PXE
 * firmware through the relay, TFTP of the boot file from next-server, DHCP again as
 * iPXE, the HTTP script, then the installer (kernel, initrds, metadata, callbacks) or
 * the local disk. Says how the boot ended; powering off aborts it wherever it is.
 */
import { platform } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { readBootScript, type BootScript } from './boot-script.ts';
import type { DhcpRelay } from './dhcp-relay.ts';
import { runInstaller, type InstallerContext } from './installer.ts';
import type { MachineHttp } from './machine-http.ts';
import { dhcpExchange } from './pxe-dhcp-client.ts';
import type { SimulatedMachine, SimulatorEndpoints, SimulatorEventKind } from './simulator-types.ts';
import { tftpDownload } from './tftp-client.ts';

export type BootEnd =
  | { end: 'refused'; reason: string }
  | { end: 'local-boot'; detail: string }
  | { end: 'power-off'; detail: string }
  | { end: 'reboot'; detail: string }
  /** `retry`: the firmware failed (DHCP, TFTP, script, kernel) and tries again, as PXE ROMs do; an installer's error is final. */
  | { end: 'error'; detail: string; retry: boolean };

export interface BootContext {
  machine: SimulatedMachine & { arch: 'bios' | 'uefi' };
  endpoints: SimulatorEndpoints;
  relay: DhcpRelay;
  http: MachineHttp;
  signal: AbortSignal;
  emit(kind: SimulatorEventKind, detail: string): void;
  memory: InstallerContext['memory'];
  poweredOff: Promise<void>;
  /** The address the machine holds now. */
  leased(address: string): void;
}

/** Send from the machine's own address where the host has it: on Linux all of 127/8 is local. */
function sourceAddress(leased: string, peerHost: string): string | undefined {
  return platform() === 'linux' && leased.startsWith('127.') && peerHost.startsWith('127.') ? leased : undefined;
}

export async function bootOnce(ctx: BootContext): Promise<BootEnd> {
  const { machine, emit, signal } = ctx;
  const startedAt = Date.now();
  const refused = (reason: string): BootEnd => (emit('refused', reason), { end: 'refused', reason });
  let inInstaller = false;
  const failed = (detail: string): BootEnd => (emit('error', detail), { end: 'error', detail, retry: !inInstaller });
  try {
    const pxe = await dhcpExchange(ctx.relay, machine, 'pxe', signal, startedAt);
    if ('refused' in pxe) return refused(pxe.refused);
    ctx.leased(pxe.answer.address);
    if (!pxe.answer.bootFile) return refused(`DHCP gave ${pxe.answer.address} but no boot file: the agent does not network-boot this machine now`);
    const tftpHost = ctx.endpoints.tftp?.host ?? pxe.answer.nextServer;
    if (!tftpHost) return failed(`DHCP named boot file ${pxe.answer.bootFile} but no next-server to fetch it from`);
    const tftpPort = ctx.endpoints.tftp?.port ?? 69;
    emit('dhcp', `PXE firmware: ${pxe.answer.address} from server ${pxe.answer.serverId}, boot file ${pxe.answer.bootFile} on ${tftpHost}`);
    const loader = await tftpDownload({
      host: tftpHost,
      port: tftpPort,
      file: pxe.answer.bootFile,
      localAddress: sourceAddress(pxe.answer.address, tftpHost),
      signal,
    });
    emit(
      'tftp',
      `${pxe.answer.bootFile}: ${loader.bytes} bytes${loader.tsize !== undefined ? ' (matches tsize)' : ''}, blksize ${loader.blksize}, from ${tftpHost}:${tftpPort}`,
    );

    const ipxe = await dhcpExchange(ctx.relay, machine, 'ipxe', signal, startedAt);
    if ('refused' in ipxe) return refused(ipxe.refused);
    ctx.leased(ipxe.answer.address);
    const scriptUrl = ipxe.answer.bootFile;
    if (!scriptUrl || !/^https?:\/\//.test(scriptUrl)) return refused(`iPXE got ${scriptUrl ? `boot file ${scriptUrl}` : 'no boot file'}, not a script URL`);
    emit('dhcp', `iPXE: ${ipxe.answer.address}, script ${scriptUrl}`);
    const call = { signal, localAddress: sourceAddress(ipxe.answer.address, new URL(scriptUrl).hostname) };
    // A wait (`sleep`, then `chain`): iPXE runs the script at the chained URL, for as long as it is told to.
    let script: BootScript;
    for (let url = scriptUrl, asked = 0; ; asked++) {
      const got = await ctx.http.getText(url, call);
      if (got.status !== 200) return failed(`script ${url} answered ${got.status}: ${got.text.trim()}`);
      script = readBootScript(got.text);
      if (script.kind !== 'chain') break;
      if (asked === 0) emit('waiting', `${script.message || 'the script asks to wait'}: asking ${script.url} again every ${script.sleepSeconds} s`);
      await sleep(script.sleepSeconds * 1000, undefined, { signal });
      url = script.url;
    }
    switch (script.kind) {
      case 'refusal':
        return refused(`the agent's script says: ${script.reason}`);
      case 'unusable':
        return failed(`script ${scriptUrl}: ${script.why}`);
      case 'local':
        emit('script', `local-boot script${script.message ? `: ${script.message}` : ''}`);
        emit('local-boot', `boots from its local disk (${ipxe.answer.address})`);
        return { end: 'local-boot', detail: script.message };
    }
    // The kernel line carries the machine's per-boot token: events are printed, so it is masked.
    emit('script', `installer: kernel ${script.kernel} ${script.cmdline.replace(/(\/metadata\/)[\w-]+/g, '$1<boot token>')}`);
    for (const url of [script.kernel, ...script.initrds]) {
      const file = await ctx.http.download(url, call);
      if (file.status !== 200) return failed(`${url} answered ${file.status}: ${file.text?.trim()}`);
      const advertised = file.headers['x-sprout-sha256'];
      if (typeof advertised === 'string' && advertised !== file.sha256) return failed(`${url}: sha256 ${file.sha256}, but the agent announced ${advertised}`);
      emit('download', `${url}: ${file.bytes} bytes, sha256 ${typeof advertised === 'string' ? 'matches x-sprout-sha256' : file.sha256}`);
    }
    inInstaller = true;
    const end = await runInstaller(script.metadata, { machine, http: ctx.http, call, emit, memory: ctx.memory, poweredOff: ctx.poweredOff });
    return end.end === 'error' ? { ...end, retry: false } : end;
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    return failed((err as Error).message);
  }
}
