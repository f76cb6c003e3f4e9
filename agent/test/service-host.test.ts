import test from 'ava';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentServiceFactory, SiteDesiredState } from '@sprout/kernel';
import { decodeDhcp, messageTypes, opt, readOption } from '../../plugins/dhcp-builtin/src/agent/dhcp-codec.ts';
import { dhcpService } from '../../plugins/dhcp-builtin/src/agent/dhcp-service.ts';
import { clientPacket, pxe } from '@sprout/test-support/dhcp-site-fixture.ts';
import { MachineWaits } from '../src/machine-waits.ts';
import { ServiceHost } from '../src/service-host.ts';
import { httpBootService } from '../src/services/http-boot/index.ts';
import { requestFrom } from '@sprout/test-support/request-from.ts';

const quiet = { info() {}, warn() {}, error() {} };

test('configured services start with their settings, see new desired state, report health; unknown or failing ones are reported', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-services-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const seen: SiteDesiredState[] = [];
  let stopped = false;
  const echo: AgentServiceFactory = async (ctx) => {
    ctx.onDesiredState((state) => seen.push(state));
    return { health: () => ({ port: ctx.settings.port, networks: ctx.desiredState().networks?.length ?? 0 }), stop: async () => void (stopped = true) };
  };
  const broken: AgentServiceFactory = async () => {
    throw new Error('port 67 is taken');
  };
  const reports: { kind: string; payload: Record<string, unknown> }[] = [];
  let state: SiteDesiredState = { networks: [] };
  const host = new ServiceHost({
    dataDir,
    settings: { echo: { port: 6767 }, broken: {}, tftp: { port: 69 } },
    factories: new Map([
      ['echo', echo],
      ['broken', broken],
    ]),
    desiredState: () => state,
    report: (kind, payload) => reports.push({ kind, payload }),
    logger: quiet,
  });
  await host.start();
  state = {
    networks: [{ id: 'n', name: 'prov', cidr: '198.18.0.0/24', gateway: '198.18.0.1', dnsServers: [], domain: null, vlan: null, pxe: true, ranges: [] }],
  };
  host.desiredStateChanged(state);
  t.is(seen.length, 1);
  const health = host.health() as Record<string, any>;
  t.deepEqual(health.echo, { state: 'running', port: 6767, networks: 1 });
  t.deepEqual(health.broken, { state: 'failed', error: 'port 67 is taken' });
  t.regex(health.tftp.error, /no installed plugin offers a "tftp" service/);
  t.deepEqual(reports.map((r) => r.payload.service).sort(), ['broken', 'tftp']);
  await host.stop();
  t.true(stopped);
});

test('the iPXE URL the DHCP service hands out, with no httpBootUrl, reaches the HTTP boot service where it actually listens', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-services-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  mkdirSync(join(dataDir, 'artifacts'));
  // A free TCP port for the http service (not 80, not its 8080 default: the URL must follow the setting).
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const httpPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const relay = createSocket('udp4');
  await new Promise<void>((resolve) => relay.bind(0, '127.0.0.1', resolve));
  t.teardown(() => relay.close());

  const mac = '52:54:00:00:7b:01';
  const state: SiteDesiredState = {
    networks: [{ id: 'net-lo', name: 'loopback', cidr: '127.0.0.0/8', gateway: '127.0.0.1', dnsServers: [], domain: null, vlan: null, pxe: true, ranges: [] }],
    reservations: [{ siteId: 'site-1', networkId: 'net-lo', mac, address: '127.79.0.5', hostname: 'node-1', netboot: true }],
    bootIntents: [{ machineId: 'm-1', hostname: 'node-1', arch: 'x86_64', bootMode: 'uefi', intent: 'local', params: {}, workflow: null, mac }],
  };
  const host = new ServiceHost({
    dataDir,
    settings: {
      http: { port: httpPort, address: '127.0.0.1', artifactRoot: join(dataDir, 'artifacts') },
      dhcp: { port: 0, address: '127.0.0.1', relayPort: relay.address().port },
    },
    factories: new Map<string, AgentServiceFactory>([
      ['http', httpBootService({ waits: new MachineWaits(dataDir), reportFor: () => undefined, markInstalled: () => undefined })],
      ['dhcp', dhcpService],
    ]),
    desiredState: () => state,
    report: () => undefined,
    logger: quiet,
  });
  await host.start();
  t.teardown(() => host.stop());
  const health = host.health() as Record<string, any>;
  t.is(health.http.state, 'running');
  const dhcpPort = Number(String(health.dhcp.listening).split(':')[1]);

  // iPXE asks through a relay (giaddr 127.0.0.1); the offer names its script's URL.
  const answered = new Promise<Buffer>((resolve) => relay.once('message', resolve));
  relay.send(clientPacket({ type: messageTypes.discover, mac, giaddr: '127.0.0.1', options: [pxe.vendor, pxe.arch(7), pxe.ipxe] }), dhcpPort, '127.0.0.1');
  const offer = decodeDhcp(await answered);
  const url = readOption.text(offer.options.get(opt.bootFileName));
  t.is(url, `http://127.0.0.1:${httpPort}/boot/ipxe?mac=${mac}`);
  // It takes the offer, and asks for its script from the address it was leased (boots are bound to the lease).
  const acked = new Promise<Buffer>((resolve) => relay.once('message', resolve));
  relay.send(
    clientPacket({
      type: messageTypes.request,
      mac,
      giaddr: '127.0.0.1',
      options: [pxe.vendor, pxe.arch(7), pxe.ipxe, [opt.requestedAddress, Buffer.from([127, 79, 0, 5])], [opt.serverId, offer.options.get(opt.serverId)!]],
    }),
    dhcpPort,
    '127.0.0.1',
  );
  t.is(decodeDhcp(await acked).yiaddr, '127.79.0.5');
  const script = await requestFrom('127.79.0.5', url!);
  t.is(script.status, 200);
  t.regex(script.text, /^#!ipxe\n[\s\S]*\nexit 1\n$/, 'the local-boot script for a UEFI machine');
});
