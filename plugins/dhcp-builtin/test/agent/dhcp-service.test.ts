/** The `dhcp` service on a real UDP socket (loopback, as a relay would talk to it), its lease file, and its settings. */
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { AgentServiceContext, SiteDesiredState } from '@sprout/kernel';
import { decodeDhcp, messageType, messageTypes as mt, opt } from '../../src/agent/dhcp-codec.ts';
import { createDhcpService } from '../../src/agent/dhcp-service.ts';
import plugin from '../../src/index.ts';
import { clientPacket, siteState } from '@sprout/test-support/dhcp-site-fixture.ts';

const loopbackState = (): SiteDesiredState =>
  siteState({
    networks: [
      {
        id: 'net-lo',
        name: 'loopback',
        cidr: '127.0.0.0/8',
        gateway: '127.0.0.1',
        dnsServers: ['127.0.0.53'],
        domain: null,
        vlan: null,
        pxe: true,
        ranges: [{ kind: 'dynamic', start: '127.77.0.10', end: '127.77.0.20' }],
      },
    ],
    reservations: [{ siteId: 'site-1', networkId: 'net-lo', mac: '52:54:00:00:00:01', address: '127.77.0.5', hostname: 'lo-1', netboot: false }],
  });

/** A relay simulator on loopback: sends as giaddr 127.0.0.1 and receives the server's answers. */
async function relay(t: import('ava').ExecutionContext) {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.teardown(() => socket.close());
  const inbox: Buffer[] = [];
  const waiters: (() => void)[] = [];
  socket.on('message', (m) => {
    inbox.push(m);
    waiters.shift()?.();
  });
  return {
    port: socket.address().port,
    async exchange(packet: Buffer, serverPort: number) {
      const arrived = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer within 3 s')), 3000);
        waiters.push(() => (clearTimeout(timer), resolve()));
      });
      socket.send(packet, serverPort, '127.0.0.1');
      await arrived;
      return decodeDhcp(inbox.shift()!);
    },
  };
}

function context(dataDir: string, settings: Record<string, unknown>, reports: { kind: string; payload: Record<string, unknown> }[]): AgentServiceContext {
  const state = loopbackState();
  return {
    dataDir,
    settings,
    desiredState: () => state,
    onDesiredState: () => {},
    report: (kind, payload) => reports.push({ kind, payload }),
    logger: { info() {}, warn() {}, error() {} },
  };
}

test('the plugin declares the dhcp agent service', async (t) => {
  const part = await plugin.agent!();
  t.is(typeof part.services?.dhcp, 'function');
});

test('answers a relayed DORA over UDP, persists the lease, and keeps it across a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-dhcp-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const peer = await relay(t);
  const reports: { kind: string; payload: Record<string, unknown> }[] = [];
  const settings = { port: 0, address: '127.0.0.1', relayPort: peer.port };
  const first = await createDhcpService()(context(dataDir, settings, reports));
  let running = first;
  t.teardown(() => running.stop());
  const port = Number(String(first.health().listening).split(':')[1]);
  const mac = '52:54:00:00:77:01';

  const offer = await peer.exchange(clientPacket({ type: mt.discover, mac, giaddr: '127.0.0.1' }), port);
  t.is(messageType(offer), mt.offer);
  t.is(offer.yiaddr, '127.77.0.10');
  const ack = await peer.exchange(
    clientPacket({
      type: mt.request,
      mac,
      giaddr: '127.0.0.1',
      options: [
        [opt.requestedAddress, Buffer.from([127, 77, 0, 10])],
        [opt.serverId, Buffer.from([127, 0, 0, 1])],
      ],
    }),
    port,
  );
  t.is(messageType(ack), mt.ack);
  t.like(reports.find((r) => r.kind === 'dhcp.lease')?.payload, { mac, address: '127.77.0.10', state: 'bound' });
  t.like(first.health(), { leases: 1, malformed: 0 });

  await first.stop();
  const file = join(dataDir, 'dhcp', 'leases.json');
  t.true(existsSync(file));
  t.like(JSON.parse(readFileSync(file, 'utf8')).leases[0], { mac, address: '127.77.0.10', state: 'bound' });

  const second = await createDhcpService()(context(dataDir, { ...settings }, reports));
  running = second;
  const port2 = Number(String(second.health().listening).split(':')[1]);
  t.is(second.health().leases, 1);
  // Another MAC cannot get the persisted address; the owner gets it back.
  const other = await peer.exchange(clientPacket({ type: mt.discover, mac: '52:54:00:00:77:02', giaddr: '127.0.0.1' }), port2);
  t.not(other.yiaddr, '127.77.0.10');
  const again = await peer.exchange(clientPacket({ type: mt.discover, mac, giaddr: '127.0.0.1' }), port2);
  t.is(again.yiaddr, '127.77.0.10');
  // Garbage is counted, not answered.
  const before = second.health().malformed as number;
  const sender = createSocket('udp4');
  await new Promise<void>((resolve) => sender.send(Buffer.from('junk'), port2, '127.0.0.1', () => resolve()));
  sender.close();
  for (let tries = 0; tries < 100 && second.health().malformed === before; tries += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(second.health().malformed, before + 1);
});

test('leases in the file that expired while the agent was down are not restored', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-dhcp-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const clock = { now: Date.parse('2026-11-26T04:00:00Z') };
  const peer = await relay(t);
  const settings = { port: 0, address: '127.0.0.1', relayPort: peer.port, leaseSeconds: 60 };
  const service = await createDhcpService({ now: () => clock.now })(context(dataDir, settings, []));
  const port = Number(String(service.health().listening).split(':')[1]);
  await peer.exchange(
    clientPacket({ type: mt.request, mac: '52:54:00:00:78:01', giaddr: '127.0.0.1', options: [[opt.requestedAddress, Buffer.from([127, 77, 0, 15])]] }),
    port,
  );
  t.is(service.health().leases, 1);
  await service.stop();
  clock.now += 61_000;
  const restarted = await createDhcpService({ now: () => clock.now })(context(dataDir, settings, []));
  t.teardown(() => restarted.stop());
  t.is(restarted.health().leases, 0);
});

test('invalid settings are refused all at once, naming each field', async (t) => {
  const err = await t.throwsAsync(
    createDhcpService()(
      context(
        tmpdir(),
        { port: 'sixty-seven', interfaces: ['eth0'], bootFiles: { x86: 'a.efi' }, httpBootUrl: 'ftp://x', leaseSeconds: 5, leaseSecond: 60 },
        [],
      ),
    ),
    { code: 'SPROUT_ERR_CONFIG' } as never,
  );
  const fields = (err as unknown as { details: { field: string }[] }).details.map((d) => d.field);
  t.deepEqual(fields.sort(), [
    'services.dhcp.bootFiles.x86',
    'services.dhcp.httpBootUrl',
    'services.dhcp.interfaces',
    'services.dhcp.leaseSecond',
    'services.dhcp.leaseSeconds',
    'services.dhcp.port',
  ]);
});

test('an unreadable lease file stops the service with an error naming the file', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-dhcp-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  mkdirSync(join(dataDir, 'dhcp'));
  writeFileSync(join(dataDir, 'dhcp', 'leases.json'), '{"version":1,"leases":[');
  const err = await t.throwsAsync(createDhcpService()(context(dataDir, { port: 0, address: '127.0.0.1' }, [])));
  t.regex(err!.message, /leases\.json is unreadable/);
});

test('a reservation that leaves the desired state takes its lease with it: the address goes to the next machine at once', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-dhcp-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const peer = await relay(t);
  const reports: { kind: string; payload: Record<string, unknown> }[] = [];
  const listeners: ((state: SiteDesiredState) => void)[] = [];
  let state = loopbackState();
  const ctx: AgentServiceContext = {
    ...context(dataDir, { port: 0, address: '127.0.0.1', relayPort: peer.port }, reports),
    desiredState: () => state,
    onDesiredState: (listener) => void listeners.push(listener),
  };
  const service = await createDhcpService()(ctx);
  t.teardown(() => service.stop());
  const port = Number(String(service.health().listening).split(':')[1]);
  const requestFor = (mac: string) =>
    clientPacket({
      type: mt.request,
      mac,
      giaddr: '127.0.0.1',
      options: [
        [opt.requestedAddress, Buffer.from([127, 77, 0, 5])],
        [opt.serverId, Buffer.from([127, 0, 0, 1])],
      ],
    });
  // lo-1 holds its reserved address.
  t.is(messageType(await peer.exchange(requestFor('52:54:00:00:00:01'), port)), mt.ack);
  // It is released; the same address is reserved for lo-2.
  state = {
    ...state,
    reservations: [{ siteId: 'site-1', networkId: 'net-lo', mac: '52:54:00:00:00:02', address: '127.77.0.5', hostname: 'lo-2', netboot: false }],
  };
  for (const listener of listeners) listener(state);
  const offer = await peer.exchange(clientPacket({ type: mt.discover, mac: '52:54:00:00:00:02', giaddr: '127.0.0.1' }), port);
  t.is(messageType(offer), mt.offer, 'the next machine is offered the address, not refused as "reserved-address-held"');
  t.is(offer.yiaddr, '127.77.0.5');
  t.like(reports.find((r) => r.kind === 'dhcp.lease' && r.payload.state === 'released')?.payload, { mac: '52:54:00:00:00:01', address: '127.77.0.5' });
  t.falsy(reports.find((r) => r.kind === 'dhcp.address-conflict'));
});
