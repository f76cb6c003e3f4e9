/**
 * Runs Debian's `ipmitool` against one BMC over IPMI v2 (lanplus), the way OpenStack
 * Ironic does, and turns its output into answers or PowerErrors.
 *
 * - The password goes through the environment (`-E` reads IPMI_PASSWORD), never on the
 *   command line, where any local user could read it in /proc/PID/cmdline.
 * - `-C 3` by default: ipmitool's own default (17) is missing on many BMCs (OpenIPMI's
 *   ipmi_sim among them), and its fallback waits ~10 s for a cipher-suite answer first.
 * - `-v`: without it ipmitool says only "Unable to establish IPMI v2 / RMCP+ session"
 *   for a wrong password and for a BMC that does not answer alike; with it, it says why.
 * - Bounded: one-second tries (`-N 1`) and as many retries (`-R`) as fit the call's
 *   timeout (ipmitool's waits grow with each retry: 2 s, 6 s, 12 s, 20 s), then a kill.
 */
import { spawn } from 'node:child_process';
import { PowerError, type PowerCallOptions, type PowerTarget } from '@sprout/kernel/sdk';
import { parseIpmiAddress } from './address.ts';

export interface IpmitoolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Invocation {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** `ipmi host:port`, the start of every message about this BMC. */
  label: string;
}

/** A call's options; `deadline` (ms since the epoch) bounds an operation of several ipmitool runs as a whole. */
export type IpmiCallOptions = PowerCallOptions & { deadline?: number };

/** The options with the operation's deadline fixed (kept when already fixed by the operation calling this one). */
export function withDeadline(options: IpmiCallOptions): IpmiCallOptions {
  return { ...options, deadline: options.deadline ?? Date.now() + options.timeoutMs };
}

/** Where to find ipmitool (tests wrap it to see the command line it is given). */
export interface IpmitoolOptions {
  ipmitool?: string;
}

/** The most retries whose growing waits (about try × r × (r+1) s) fit in three quarters of the timeout. */
export function retriesFor(timeoutMs: number): number {
  let retries = 1;
  while ((retries + 1) * (retries + 2) * 1000 <= timeoutMs * 0.75 && retries < 5) retries++;
  return retries;
}

function cipherSuite(target: PowerTarget, label: string): string {
  const suite = target.bmc.options?.cipherSuite ?? 3;
  if (!/^\d{1,2}$/.test(String(suite)) || Number(suite) > 17) {
    throw new PowerError('unsupported', `${label}: bmc.options.cipherSuite must be an IPMI cipher suite number (0-17), got "${suite}"`);
  }
  return String(suite);
}

/** The ipmitool command line and environment for one command against the target's BMC. */
export function invocation(target: PowerTarget, command: string[], options: PowerCallOptions, tool: IpmitoolOptions = {}): Invocation {
  const address = target.bmc.address ?? '';
  const label = `ipmi ${address}`;
  const endpoint = parseIpmiAddress(address);
  if ('problem' in endpoint) throw new PowerError('unsupported', `${label}: bmc.address ${endpoint.problem}`);
  const args = [
    '-v',
    '-I',
    'lanplus',
    '-C',
    cipherSuite(target, label),
    '-H',
    endpoint.host,
    '-p',
    String(endpoint.port),
    '-U',
    target.bmc.username ?? '',
    '-E',
    '-N',
    '1',
    '-R',
    String(retriesFor(options.timeoutMs)),
    ...command,
  ];
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', IPMI_PASSWORD: target.bmc.password ?? '' };
  return { file: tool.ipmitool ?? 'ipmitool', args, env, label };
}

/** Lines ipmitool -v prints on every run, saying nothing about this one. */
const chatter = [
  /^Loading IANA PEN Registry/,
  /^Running Get VSO Capabilities/,
  /^Invalid completion code received: /,
  /^Discovered IPMB address/,
  /^Get HPM\.x Capabilities request failed/,
  /^Password:\s*$/,
];

/** ipmitool's own words about what went wrong, without its chatter. */
export function ipmitoolWords(stderr: string): string {
  return stderr
    .split('\n')
    .map((line) =>
      line
        .replace(/^Password:\s*/, '')
        .replace(/^>\s*/, '')
        .trim(),
    )
    .filter((line) => line && !chatter.some((c) => c.test(line)))
    .join('; ');
}

const auth =
  /RAKP \d HMAC is invalid|RAKP \d message indicates an error|unauthorized name|Unable to read password|invalid session ID|Activate Session error|Authentication type \S+ not supported/i;
const unreachable =
  /Get Auth Capabilities error|Error issuing Get Channel Authentication Capabilities|Address lookup for .* failed|Could not open socket|No response from remote controller|Connection refused/i;
const unsupported = /invalid (authentication|integrity|confidentiality) algorithm|no matching cipher suite|Invalid cipher suite|Unsupported cipher suite/i;

/** The PowerError for a failed run of `what` (e.g. "chassis power on"). */
export function failure(label: string, what: string, run: IpmitoolRun): PowerError {
  const words = ipmitoolWords(run.stderr) || run.stdout.trim() || `ipmitool exited with ${run.code}`;
  const prefix = `${label}: ${what}`;
  if (auth.test(run.stderr)) return new PowerError('auth', `${prefix}: the BMC refused the username or password (${words})`);
  if (unsupported.test(run.stderr))
    return new PowerError('unsupported', `${prefix}: the BMC does not offer this cipher suite, set bmc.options.cipherSuite (${words})`);
  if (unreachable.test(run.stderr)) return new PowerError('unreachable', `${prefix}: no answer from the BMC at ${label.slice(5)} (${words})`);
  if (/ failed: /.test(words)) return new PowerError('refused', `${prefix}: the BMC refused (${words})`);
  return new PowerError('protocol', `${prefix}: ${words}`);
}

/** Runs one ipmitool command: its output on exit 0, else the PowerError saying why; killed at the call's timeout. */
export async function ipmitool(target: PowerTarget, command: string[], options: IpmiCallOptions, tool: IpmitoolOptions = {}): Promise<IpmitoolRun> {
  const left = options.deadline === undefined ? options.timeoutMs : options.deadline - Date.now();
  const call = invocation(target, command, { timeoutMs: left }, tool);
  const what = command.join(' ');
  const late = () => new PowerError('timeout', `${call.label}: ${what}: the BMC at ${call.label.slice(5)} did not answer within ${options.timeoutMs} ms`);
  if (options.signal?.aborted) throw new PowerError('timeout', `${call.label}: ${what}: cancelled`);
  if (left <= 0) throw late();
  const run = await new Promise<IpmitoolRun & { timedOut: boolean; spawnError?: Error }>((resolve) => {
    const child = spawn(call.file, call.args, { env: call.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let spawnError: Error | undefined;
    const kill = () => {
      timedOut = true;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(kill, left);
    options.signal?.addEventListener('abort', kill, { once: true });
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => (spawnError = err));
    child.on('close', (code) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', kill);
      resolve({ code, stdout, stderr, timedOut, spawnError });
    });
  });
  if (run.spawnError)
    throw new PowerError(
      'unsupported',
      `${call.label}: ${what}: cannot run ${call.file} (${run.spawnError.message}); install the ipmitool package on the site agent's host`,
    );
  if (run.timedOut) {
    const words = ipmitoolWords(run.stderr);
    throw new PowerError('timeout', `${late().message}${words ? ` (${words})` : ''}`);
  }
  if (run.code !== 0) throw failure(call.label, what, run);
  return run;
}
