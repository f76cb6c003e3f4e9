/**
 * The `ra` site service: IPv6 router advertisements that end iPXE's wait.
 *
 * iPXE configures every interface for IPv4 (DHCP) and IPv6 (router solicitation) at once
 * and goes on only when both have finished; on an IPv4-only provisioning network nothing
 * answers its solicitations, so every boot (and every chained iPXE) waits ~16 s for them
 * to time out. An advertisement with no prefix, no managed/other flags and a router
 * lifetime of 0 ends that wait at once and configures nothing: the machine gets no IPv6
 * address, no default route, no DHCPv6.
 *
 * Node.js has no raw ICMPv6 socket, so the service runs Debian's `radvd` with a config of
 * its own (nothing in /etc), supervises it (restarted with backoff when it exits) and
 * stops it with the agent. radvd needs CAP_NET_RAW (root, or the capability given to the
 * agent's unit: docs/production.md).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { SproutError, type AgentServiceFactory, type ProblemDetail } from '@sprout/kernel/sdk';

export interface RaSettings {
  /** Interface names, or IPv4 addresses of interfaces (as `services.dhcp.interfaces` has them). */
  interfaces: string[];
  /** The radvd binary. */
  radvd: string;
  /** Seconds between unsolicited advertisements (radvd's MaxRtrAdvInterval); solicited ones are answered at once. */
  intervalSeconds: number;
}

const known = ['interfaces', 'radvd', 'intervalSeconds'];

/**
 * `services.ra` with defaults: interfaces default to the DHCP service's; every bad field is
 * reported at once.
 */
export function parseRaSettings(raw: Record<string, unknown>, services: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {}): RaSettings {
  const problems: ProblemDetail[] = [];
  const fromDhcp = services.dhcp?.interfaces;
  const interfaces = raw.interfaces ?? fromDhcp;
  if (!Array.isArray(interfaces) || interfaces.length === 0 || !interfaces.every((i) => typeof i === 'string' && /^[\w.:@-]{1,64}$/.test(i))) {
    problems.push({
      field: 'services.ra.interfaces',
      message:
        raw.interfaces === undefined
          ? 'is required when services.dhcp.interfaces does not name the provisioning interfaces (interface names or their IPv4 addresses)'
          : `must be a non-empty list of interface names or IPv4 addresses, got ${JSON.stringify(raw.interfaces)}`,
    });
  }
  const radvd = raw.radvd ?? 'radvd';
  if (typeof radvd !== 'string' || radvd === '')
    problems.push({ field: 'services.ra.radvd', message: `must be the radvd binary's path or name, got ${JSON.stringify(raw.radvd)}` });
  const interval = raw.intervalSeconds ?? 600;
  if (typeof interval !== 'number' || !Number.isInteger(interval) || interval < 4 || interval > 1800) {
    problems.push({ field: 'services.ra.intervalSeconds', message: `must be an integer from 4 to 1800, got ${JSON.stringify(raw.intervalSeconds)}` });
  }
  for (const name of Object.keys(raw))
    if (!known.includes(name)) problems.push({ field: `services.ra.${name}`, message: `is not a router advertisement setting; known: ${known.join(', ')}` });
  if (problems.length > 0)
    throw new SproutError('SPROUT_ERR_CONFIG', `services.ra has ${problems.length} invalid setting(s)`, { details: problems, context: { service: 'ra' } });
  return { interfaces: interfaces as string[], radvd: radvd as string, intervalSeconds: interval as number };
}

type HostInterfaces = Record<string, Array<{ family: string; address: string }> | undefined>;

/**
 * Every interface of this host with its addresses, also those without carrier: Node's
 * networkInterfaces() (libuv) leaves out interfaces that are not RUNNING, such as a
 * provisioning bridge no machine is plugged into yet, so iproute2's `ip -json address` is
 * asked first (Node's list when `ip` cannot be run).
 */
export function hostInterfaces(): HostInterfaces {
  try {
    const out = execFileSync('ip', ['-json', 'address', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    const links = JSON.parse(out) as Array<{ ifname?: string; addr_info?: Array<{ family?: string; local?: string }> }>;
    const found: HostInterfaces = {};
    for (const link of links) {
      if (!link.ifname) continue;
      found[link.ifname] = (link.addr_info ?? [])
        .filter((a) => a.local)
        .map((a) => ({ family: a.family === 'inet' ? 'IPv4' : a.family === 'inet6' ? 'IPv6' : String(a.family), address: a.local! }));
    }
    return found;
  } catch {
    return networkInterfaces();
  }
}

/** Interface names for names or IPv4 addresses; an address no interface has is an error naming it. */
export function interfaceNames(wanted: string[], local: HostInterfaces = hostInterfaces()): string[] {
  return wanted.map((w) => {
    if (!isIPv4(w)) {
      if (!local[w])
        throw new SproutError('SPROUT_ERR_CONFIG', `services.ra.interfaces: no interface "${w}" on this host; it has ${Object.keys(local).join(', ')}`);
      return w;
    }
    const name = Object.entries(local).find(([, addresses]) => addresses?.some((a) => a.family === 'IPv4' && a.address === w))?.[0];
    if (!name) throw new SproutError('SPROUT_ERR_CONFIG', `services.ra.interfaces: no interface of this host has the address ${w}`);
    return name;
  });
}

/** radvd's config: per interface, an advertisement that configures nothing (no prefix, no flags, router lifetime 0). */
export function radvdConfig(names: string[], intervalSeconds: number): string {
  const min = Math.max(3, Math.floor(intervalSeconds / 3));
  return `# Written by the Sprout agent's ra service; rewritten at every start.
# Advertisements that end iPXE's IPv6 router solicitation wait and configure nothing.
${names
  .map(
    (name) => `interface ${name} {
  AdvSendAdvert on;
  IgnoreIfMissing on;
  AdvDefaultLifetime 0;
  AdvManagedFlag off;
  AdvOtherConfigFlag off;
  MinRtrAdvInterval ${min};
  MaxRtrAdvInterval ${intervalSeconds};
};
`,
  )
  .join('')}`;
}

export const raService: AgentServiceFactory = async (ctx) => {
  const settings = parseRaSettings(ctx.settings, ctx.services);
  const names = interfaceNames(settings.interfaces);
  const folder = join(ctx.dataDir, 'ra');
  mkdirSync(folder, { recursive: true });
  const config = join(folder, 'radvd.conf');
  writeFileSync(config, radvdConfig(names, settings.intervalSeconds));
  const args = ['--nodaemon', '--config', config, '--pidfile', join(folder, 'radvd.pid'), '--logmethod', 'stderr_clean'];

  let child: ChildProcess | undefined;
  let stopping = false;
  let restarts = 0;
  let lastError: string | null = null;
  let startedAt = 0;
  let restartTimer: NodeJS.Timeout | undefined;

  const start = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const proc = spawn(settings.radvd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      child = proc;
      startedAt = Date.now();
      let said = '';
      proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        said = (said + chunk).slice(-2000);
        for (const line of chunk.split('\n').filter(Boolean)) ctx.logger.debug?.({ service: 'ra' }, `radvd: ${line}`);
      });
      proc.once('error', (err) => {
        lastError = `cannot run ${settings.radvd}: ${err.message} (install Debian's radvd package, or set services.ra.radvd)`;
        child = undefined;
        reject(new SproutError('SPROUT_ERR_CONFIG', lastError));
      });
      proc.once('spawn', () => {
        // radvd checks its config and opens its raw socket at once: alive after a moment means serving.
        const settled = setTimeout(() => {
          proc.off('exit', early);
          proc.once('exit', (code, signal) => {
            child = undefined;
            if (stopping) return;
            lastError = `radvd exited (${signal ?? `code ${code}`}): ${said.trim().split('\n').slice(-3).join('; ')}`;
            ctx.logger.warn({ service: 'ra', restarts }, `ra: ${lastError}; restarting`);
            const delay = Math.min(30_000, 1000 * 2 ** Math.min(restarts, 5));
            restarts++;
            restartTimer = setTimeout(
              () => start().catch((err) => ctx.logger.error({ err, service: 'ra' }, 'ra: radvd cannot start again')),
              Date.now() - startedAt > 60_000 ? 1000 : delay,
            );
          });
          resolve();
        }, 300);
        const early = (code: number | null, signal: NodeJS.Signals | null) => {
          clearTimeout(settled);
          child = undefined;
          lastError = `radvd exited at start (${signal ?? `code ${code}`}): ${said.trim().split('\n').slice(-3).join('; ') || 'no output'}`;
          reject(new SproutError('SPROUT_ERR_CONFIG', `services.ra: ${lastError}`));
        };
        proc.once('exit', early);
      });
    });

  await start();
  ctx.logger.info(
    { service: 'ra', interfaces: names },
    'ra: answering IPv6 router solicitations (no prefix, router lifetime 0) so iPXE does not wait for them',
  );
  return {
    health: () => ({ running: child !== undefined, interfaces: names, restarts, lastError }),
    stop: async () => {
      stopping = true;
      clearTimeout(restartTimer);
      const proc = child;
      if (!proc) return;
      await new Promise<void>((resolve) => {
        const kill = setTimeout(() => proc.kill('SIGKILL'), 3000);
        proc.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        proc.kill('SIGTERM');
      });
    },
  };
};
