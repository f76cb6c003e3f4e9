/**
 * A network namespace joined to the host by a veth pair, for running real DHCP clients
 * against the service. Addresses come from 198.18.0.0/15 only; everything created is
 * removed in t.teardown, even when the test fails.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';

const exec = promisify(execFile);

export interface NetnsLink {
  ns: string;
  hostIf: string;
  nsIf: string;
  /** Host end, e.g. 198.18.167.1. */
  hostAddress: string;
  /** `198.18.167` — the /24 the link uses. */
  prefix: string;
  mac: string;
}

export async function run(command: string, args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
  try {
    return await exec(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 });
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.message}\nstdout: ${e.stdout ?? ''}\nstderr: ${e.stderr ?? ''}`);
  }
}

let created = 0;

/** A fresh namespace and veth on a /24 of 198.18.0.0/15 that no host interface uses yet. */
export async function netnsLink(t: ExecutionContext, third: number, mac: string): Promise<NetnsLink> {
  created += 1;
  const tag = `${process.pid % 100000}${created}`;
  const link: NetnsLink = {
    ns: `sprout-dhcp-${tag}`,
    hostIf: `sdh${tag}h`.slice(0, 15),
    nsIf: `sdh${tag}c`.slice(0, 15),
    hostAddress: `198.18.${third}.1`,
    prefix: `198.18.${third}`,
    mac,
  };
  const inUse = (await run('ip', ['-4', '-o', 'addr', 'show'])).stdout;
  if (inUse.includes(` ${link.prefix}.`)) throw new Error(`198.18.${third}.0/24 is already on a host interface; pick another for this test`);
  t.teardown(async () => {
    // Deleting the namespace removes its veth end, and with it the host end.
    await exec('ip', ['link', 'del', link.hostIf]).catch(() => {});
    await exec('ip', ['netns', 'del', link.ns]).catch(() => {});
  });
  await run('ip', ['netns', 'add', link.ns]);
  await run('ip', ['link', 'add', link.hostIf, 'type', 'veth', 'peer', 'name', link.nsIf]);
  await run('ip', ['link', 'set', link.nsIf, 'netns', link.ns]);
  await run('ip', ['netns', 'exec', link.ns, 'ip', 'link', 'set', link.nsIf, 'address', mac]);
  await run('ip', ['addr', 'add', `${link.hostAddress}/24`, 'dev', link.hostIf]);
  await run('ip', ['link', 'set', link.hostIf, 'up']);
  await run('ip', ['netns', 'exec', link.ns, 'ip', 'link', 'set', 'lo', 'up']);
  await run('ip', ['netns', 'exec', link.ns, 'ip', 'link', 'set', link.nsIf, 'up']);
  return link;
}
