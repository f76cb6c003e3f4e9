/**
 * Real DHCP clients (busybox udhcpc, ISC dhclient) in a network namespace get their
 * reserved address, router, DNS and boot file from the dhcp service bound on the host
 * end of a veth. Needs root, ip netns, udhcpc and dhclient.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { AgentServiceContext, SiteDesiredState } from '@sprout/kernel';
import { createDhcpService } from '../../../src/agent/dhcp-service.ts';
import { netnsLink, run, type NetnsLink } from './netns-link.ts';

function stateFor(link: NetnsLink, netboot: boolean): SiteDesiredState {
  const p = link.prefix;
  return {
    site: { id: 'site-1', name: 'lab' },
    networks: [
      {
        id: 'net-prov',
        name: 'provisioning',
        cidr: `${p}.0/24`,
        gateway: `${p}.254`,
        dnsServers: [`${p}.53`, `${p}.54`],
        domain: 'lab.example',
        vlan: null,
        pxe: true,
        ranges: [],
      },
    ],
    reservations: [{ siteId: 'site-1', networkId: 'net-prov', mac: link.mac, address: `${p}.23`, hostname: 'node-23', netboot }],
    bootIntents: [
      { machineId: 'm-23', hostname: 'node-23', arch: 'x86_64', bootMode: 'uefi', intent: 'commission', params: {}, workflow: null, mac: link.mac },
    ],
  };
}

async function serve(t: ExecutionContext, link: NetnsLink, netboot = true) {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-dhcp-peer-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const reports: { kind: string; payload: Record<string, unknown> }[] = [];
  const state = stateFor(link, netboot);
  const ctx: AgentServiceContext = {
    dataDir,
    settings: { port: 67, address: '0.0.0.0', interfaces: [link.hostAddress], httpBootUrl: `http://${link.hostAddress}:8080` },
    desiredState: () => state,
    onDesiredState: () => {},
    report: (kind, payload) => reports.push({ kind, payload }),
    logger: { info() {}, warn() {}, error() {} },
  };
  const service = await createDhcpService()(ctx);
  t.teardown(() => service.stop());
  return { service, reports, dataDir };
}

/** udhcpc with a script that prints what it was given on `bound`. */
async function udhcpc(t: ExecutionContext, link: NetnsLink, extra: string[]): Promise<Record<string, string>> {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-udhcpc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'print-lease.sh');
  writeFileSync(
    script,
    '#!/bin/sh\n[ "$1" = bound ] && echo "LEASE|ip=$ip|router=$router|dns=$dns|boot_file=$boot_file|siaddr=$siaddr|bootfile=$bootfile|hostname=$hostname|domain=$domain|subnet=$subnet"\nexit 0\n',
  );
  chmodSync(script, 0o755);
  const { stdout } = await run(
    'ip',
    ['netns', 'exec', link.ns, 'udhcpc', '-i', link.nsIf, '-n', '-q', '-f', '-t', '3', '-T', '1', '-s', script, ...extra],
    30_000,
  );
  const line = stdout.split('\n').find((l) => l.startsWith('LEASE|'));
  if (!line) throw new Error(`udhcpc got no lease:\n${stdout}`);
  return Object.fromEntries(
    line
      .split('|')
      .slice(1)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

test.serial('udhcpc as x86-64 UEFI PXE firmware: reserved address, router, DNS, ipxe.efi from next-server', async (t) => {
  const link = await netnsLink(t, 167, '52:54:00:a7:00:23');
  const { reports } = await serve(t, link);
  const lease = await udhcpc(t, link, ['-V', 'PXEClient', '-x', '0x5d:0007']);
  t.is(lease.ip, '198.18.167.23');
  t.is(lease.router, '198.18.167.254');
  t.is(lease.dns, '198.18.167.53 198.18.167.54');
  t.is(lease.subnet, '255.255.255.0');
  t.is(lease.hostname, 'node-23');
  t.is(lease.domain, 'lab.example');
  t.is(lease.boot_file, 'ipxe.efi');
  t.is(lease.bootfile, 'ipxe.efi');
  t.is(lease.siaddr, '198.18.167.1');
  t.like(reports.find((r) => r.kind === 'dhcp.lease')?.payload, { mac: '52:54:00:a7:00:23', address: '198.18.167.23', state: 'bound' });
});

test.serial('udhcpc as BIOS PXE firmware gets undionly.kpxe; as iPXE the HTTP boot-script URL', async (t) => {
  const link = await netnsLink(t, 168, '52:54:00:a8:00:23');
  await serve(t, link);
  const bios = await udhcpc(t, link, ['-V', 'PXEClient', '-x', '0x5d:0000']);
  t.is(bios.ip, '198.18.168.23');
  t.is(bios.boot_file, 'undionly.kpxe');
  const ipxe = await udhcpc(t, link, ['-V', 'PXEClient', '-x', '0x5d:0007', '-x', `0x4d:${Buffer.from('iPXE').toString('hex')}`]);
  t.is(ipxe.ip, '198.18.168.23');
  t.is(ipxe.bootfile, 'http://198.18.168.1:8080/boot/ipxe?mac=52:54:00:a8:00:23');
});

test.serial('udhcpc for a machine whose netboot is off: its address, no boot file, and an event', async (t) => {
  const link = await netnsLink(t, 169, '52:54:00:a9:00:23');
  const { reports } = await serve(t, link, false);
  const lease = await udhcpc(t, link, ['-V', 'PXEClient', '-x', '0x5d:0007']);
  t.is(lease.ip, '198.18.169.23');
  t.is(lease.boot_file, '');
  t.is(lease.bootfile, '');
  t.like(reports.find((r) => r.kind === 'dhcp.netboot-refused')?.payload, { mac: '52:54:00:a9:00:23', reason: 'netboot-disabled' });
});

test.serial('dhclient as an iPXE client: reserved address, router, DNS and the HTTP boot-script URL in its lease file', async (t) => {
  const link = await netnsLink(t, 170, '52:54:00:aa:00:23');
  await serve(t, link);
  const dir = mkdtempSync(join(tmpdir(), 'sprout-dhclient-'));
  const leaseFile = join(dir, 'dhclient.leases');
  const pidFile = join(dir, 'dhclient.pid');
  t.teardown(async () => {
    // dhclient backgrounds itself once bound; stop exactly the process it recorded.
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (pid > 1) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const config = join(dir, 'dhclient.conf');
  writeFileSync(
    config,
    [
      'timeout 20;',
      'retry 1;',
      'option pxe-arch code 93 = unsigned integer 16;',
      'send vendor-class-identifier "PXEClient:Arch:00007:UNDI:003016";',
      'send pxe-arch 7;',
      'send user-class "iPXE";',
      'request subnet-mask, routers, domain-name, domain-name-servers, host-name;',
      '',
    ].join('\n'),
  );
  const { stderr } = await run(
    'ip',
    ['netns', 'exec', link.ns, 'dhclient', '-1', '-v', '-cf', config, '-sf', '/bin/true', '-lf', leaseFile, '-pf', pidFile, link.nsIf],
    40_000,
  );
  t.regex(stderr, /DHCPACK of 198\.18\.170\.23/);
  const leases = readFileSync(leaseFile, 'utf8');
  t.regex(leases, /fixed-address 198\.18\.170\.23;/);
  t.regex(leases, /option routers 198\.18\.170\.254;/);
  t.regex(leases, /option domain-name-servers 198\.18\.170\.53,198\.18\.170\.54;/);
  t.regex(leases, /filename "http:\/\/198\.18\.170\.1:8080\/boot\/ipxe\?mac=52:54:00:aa:00:23";/);
  t.regex(leases, /option dhcp-server-identifier 198\.18\.170\.1;/);
});
