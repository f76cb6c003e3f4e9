/**
 * The established servers and load tools Sprout is measured against, installed from
 * Debian packages when absent. Installing must never start them as system services on
 * the standard ports: a policy-rc.d that refuses every start is in place during the
 * install (and removed again if the bench put it there), and any daemon a package
 * started anyway is stopped. The bench runs each peer itself, on its own ports.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

/** Binary → Debian package that ships it. */
const packages: Record<string, string> = {
  'kea-dhcp4': 'kea-dhcp4-server',
  perfdhcp: 'kea-admin',
  dnsmasq: 'dnsmasq-base',
  named: 'bind9',
  dnsperf: 'dnsperf',
  'in.tftpd': 'tftpd-hpa',
  atftp: 'atftp',
  curl: 'curl',
  wrk: 'wrk',
  ip: 'iproute2',
};

const serviceNames = ['kea-dhcp4-server', 'isc-kea-dhcp4-server', 'named', 'bind9', 'tftpd-hpa', 'dnsmasq'];

export function which(binary: string): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin', '/usr/local/sbin']) {
    if (existsSync(`${dir}/${binary}`)) return `${dir}/${binary}`;
  }
  return undefined;
}

/** Installs what is missing of `binaries`; returns the ones still missing (reported, not fatal). */
export function ensurePeers(binaries: string[], log: (line: string) => void): string[] {
  const missing = binaries.filter((b) => !which(b));
  if (missing.length === 0) return [];
  const wanted = [...new Set(missing.map((b) => packages[b] ?? b))];
  if (process.getuid?.() !== 0) {
    log(`peers missing (${wanted.join(' ')}); not root, so not installing them: those comparisons are skipped`);
    return missing;
  }
  log(`installing peers from Debian packages: ${wanted.join(' ')}`);
  const policy = '/usr/sbin/policy-rc.d';
  const ours = !existsSync(policy) || !readFileSync(policy, 'utf8').includes('exit 101');
  const previous = existsSync(policy) ? readFileSync(policy) : undefined;
  if (ours) {
    // invoke-rc.d asks this before starting a service; 101 = "action forbidden".
    writeFileSync(policy, "#!/bin/sh\n# written by Sprout's npm run bench while it installs peers\nexit 101\n");
    chmodSync(policy, 0o755);
  }
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...wanted], { env, stdio: 'pipe', timeout: 600_000 });
    if (result.status !== 0) {
      spawnSync('apt-get', ['update'], { env, stdio: 'pipe', timeout: 300_000 });
      result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...wanted], { env, stdio: 'pipe', timeout: 600_000 });
    }
    if (result.status !== 0) log(`apt-get install failed: ${result.stderr?.toString().slice(-2000)}`);
  } finally {
    if (ours) {
      if (previous) writeFileSync(policy, previous);
      else rmSync(policy, { force: true });
    }
    stopPackagedServices(log);
  }
  return binaries.filter((b) => !which(b));
}

/** Stops daemons a package may have started despite policy-rc.d (systemd hosts ignore it for some units). */
function stopPackagedServices(log: (line: string) => void): void {
  for (const name of serviceNames) {
    const systemctl = spawnSync('systemctl', ['is-active', '--quiet', name], { stdio: 'ignore' });
    if (systemctl.status === 0) {
      spawnSync('systemctl', ['disable', '--now', name], { stdio: 'ignore' });
      log(`stopped and disabled the packaged ${name} service`);
    }
  }
}

export function peerVersion(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 })
      .toString()
      .split('\n')[0]
      .trim();
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer };
    return (
      `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`
        .split('\n')
        .find((l) => l.trim())
        ?.trim() ?? 'unknown'
    );
  }
}
