/**
 * DHCP fuzzing over the wire: 100 000 random and mutated BOOTP/DHCP packets at the
 * agent's DHCP service on loopback, every one arriving through a relay address so
 * every answer goes back to the test's relay socket (and nowhere else). Every answer
 * is read by a decoder written here, independent of the server's codec. The service
 * must keep answering, count no internal error, keep no address on two MACs, and not
 * grow without bound. A second test floods DISCOVERs from unknown MACs and checks a
 * known machine is still offered its address while the flood runs.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentServiceContext, RunningAgentService, SiteDesiredState } from '@sprout/kernel';
import { dhcpService } from '../../plugins/dhcp-builtin/src/agent/dhcp-service.ts';
import { flood, fuzzSeed, heapUsed, MiB, mutate, prng, type Flood } from './fuzz-kit.ts';

const packets = Number(process.env.SPROUT_FUZZ_PACKETS ?? 100_000);
const relay = '127.79.0.1';
const known = { mac: '52:54:00:79:00:0a', address: '127.79.0.10' };
/** A machine the fuzzer never impersonates (the first may well have declined its own address). */
const bystander = { mac: '52:54:00:79:00:0b', address: '127.79.0.11' };

function state(): SiteDesiredState {
  return {
    site: { id: 'site-fz', name: 'fz' },
    networks: [
      {
        id: 'net-fz',
        name: 'fz',
        cidr: '127.79.0.0/24',
        gateway: relay,
        dnsServers: ['127.79.0.53'],
        domain: 'fz.example',
        vlan: null,
        pxe: true,
        ranges: [{ kind: 'dynamic', start: '127.79.0.100', end: '127.79.0.199' }],
      },
    ],
    reservations: [known, bystander].map((m, i) => ({
      siteId: 'site-fz',
      networkId: 'net-fz',
      mac: m.mac,
      address: m.address,
      hostname: `known-${i}`,
      netboot: true,
    })),
    bootIntents: [known, bystander].map((m, i) => ({
      machineId: `m-${i}`,
      hostname: `known-${i}`,
      arch: 'x86_64',
      bootMode: 'bios',
      intent: 'commission',
      params: {},
      workflow: null,
      mac: m.mac,
    })),
  } as SiteDesiredState;
}

/** A client packet built byte by byte, as a relay forwards it. */
function clientPacket(type: number, mac: Buffer, xid: number, options: [number, Buffer][] = []): Buffer {
  const header = Buffer.alloc(240);
  header[0] = 1;
  header[1] = 1;
  header[2] = 6;
  header[3] = 1;
  header.writeUInt32BE(xid, 4);
  Buffer.from(relay.split('.').map(Number)).copy(header, 24);
  mac.copy(header, 28);
  header.writeUInt32BE(0x63825363, 236);
  const opts = [[53, Buffer.from([type])] as [number, Buffer], ...options].flatMap(([code, value]) => [Buffer.from([code, value.length]), value]);
  return Buffer.concat([header, ...opts, Buffer.from([255])]);
}

const pxeOptions: [number, Buffer][] = [
  [60, Buffer.from('PXEClient:Arch:00000:UNDI:002001')],
  [93, Buffer.from([0, 0])],
  [97, Buffer.from('00' + '0123456789abcdef0123456789abcdef', 'hex')],
];

/** An independent, strict reading of a server reply. Null when well formed. */
export function malformedDhcpReply(p: Buffer): string | null {
  if (p.length < 241) return `only ${p.length} bytes`;
  if (p.length > 1500) return `${p.length} bytes, over an Ethernet MTU`;
  if (p[0] !== 2) return `op ${p[0]}, not BOOTREPLY`;
  if (p[2]! > 16) return `hlen ${p[2]}`;
  if (p.readUInt32BE(236) !== 0x63825363) return 'no magic cookie';
  let type: number | undefined;
  let at = 240;
  for (;;) {
    if (at >= p.length) return 'options without an end option';
    const code = p[at]!;
    if (code === 255) break;
    if (code === 0) {
      at++;
      continue;
    }
    if (at + 1 >= p.length) return `option ${code} without a length`;
    const length = p[at + 1]!;
    if (at + 2 + length > p.length) return `option ${code} runs past the end`;
    if (code === 53) {
      if (length !== 1) return 'message type of length ≠ 1';
      type = p[at + 2];
    }
    if (code === 52) return 'option overload (the server never needs it)';
    at += 2 + length;
  }
  if (p.subarray(at + 1).some((b) => b !== 0)) return 'bytes after the end option other than padding';
  if (type === undefined || ![2, 5, 6].includes(type)) return `message type ${type}, not OFFER, ACK or NAK`;
  if (p[3] === 0 && p.readUInt32BE(24) === 0) return 'a relayed request answered without giaddr';
  return null;
}

async function startDhcp(
  t: import('ava').ExecutionContext,
  relayPort: number,
  settings: Record<string, unknown> = {},
): Promise<{ service: RunningAgentService; port: number; errors: object[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-dhcp-fuzz-'));
  const errors: object[] = [];
  const desired = state();
  const ctx: AgentServiceContext = {
    dataDir,
    settings: { port: 0, address: '127.0.0.1', relayPort, serverId: '127.0.0.1', httpBootUrl: 'http://127.0.0.1:8080', ...settings },
    desiredState: () => desired,
    onDesiredState: () => undefined,
    report: () => undefined,
    logger: { info: () => undefined, warn: () => undefined, error: (o: object) => errors.push(o) },
  };
  const service = await dhcpService(ctx);
  t.teardown(async () => {
    await service.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const port = Number(String((service.health() as { listening: string }).listening).split(':')[1]);
  return { service, port, errors };
}

async function relaySocket(t: import('ava').ExecutionContext): Promise<Flood> {
  const socket = await flood(relay);
  t.teardown(() => socket.close());
  return socket;
}

test.serial(`${packets} random and mutated DHCP packets over loopback: every answer well formed, service intact, memory bounded`, async (t) => {
  t.timeout(120_000);
  t.log(`seed ${fuzzSeed} (SPROUT_FUZZ_SEED=${fuzzSeed} replays)`);
  const random = prng(fuzzSeed);
  const client = await relaySocket(t);
  const dhcp = await startDhcp(t, client.port, { maxPendingUnknownOffers: 64 });
  const next = () => {
    const mac = random.next() < 0.3 ? Buffer.from(known.mac.replace(/:/g, ''), 'hex') : Buffer.concat([Buffer.from([0x52, 0x54]), random.bytes(4)]);
    const options = random.next() < 0.5 ? [...pxeOptions] : [];
    if (random.next() < 0.3) options.push([50, Buffer.from([127, 79, 0, random.int(256)])], [54, Buffer.from([127, 0, 0, 1])]);
    const valid = clientPacket(random.pick([1, 3, 4, 7, 8, 1, 3]), mac, random.int(2 ** 32), options);
    const packet = random.next() < 0.1 ? valid : mutate(random, valid, 1400);
    // Whatever else changed, the packet comes through the relay: answers go back to it, on loopback.
    if (packet.length >= 28) {
      packet[3] = Math.max(packet[3]!, 1);
      Buffer.from(relay.split('.').map(Number)).copy(packet, 24);
    }
    return packet;
  };
  await client.send(2_000, dhcp.port, next);
  const heapBefore = heapUsed();
  await client.send(packets - 2_000, dhcp.port, next);
  const heapAfter = heapUsed();

  let bad = 0;
  for (const { packet } of client.answers) {
    const problem = malformedDhcpReply(packet);
    if (problem && bad++ < 5) t.fail(`malformed answer (${problem}): ${packet.toString('hex')}`);
  }
  const health = dhcp.service.health() as {
    received: number;
    answered: number;
    malformed: number;
    floodDropped: number;
    errors: number;
    offers: number;
    leases: number;
  };
  t.log(
    `${packets} packets sent, ${health.received} received, ${client.answers.length} answers checked, ${health.malformed} malformed dropped, ${health.floodDropped} unknown DISCOVERs over the cap dropped; heap ${(heapBefore / MiB).toFixed(1)} → ${(heapAfter / MiB).toFixed(1)} MiB`,
  );
  t.is(bad, 0);
  t.true(health.received >= packets * 0.9, `the flood reached the server (${health.received})`);
  t.true(client.answers.length > 1_000, `enough answers to judge (${client.answers.length})`);
  t.is(health.errors, 0, JSON.stringify(dhcp.errors.slice(0, 3)));
  t.true(health.offers <= 64 + 1, `pending offers stay under the cap (${health.offers})`);
  t.true(heapAfter - heapBefore < 64 * MiB, `heap grew by ${((heapAfter - heapBefore) / MiB).toFixed(1)} MiB`);

  // Still serving a known machine its reserved address.
  client.answers.length = 0;
  await client.send(1, dhcp.port, () => clientPacket(1, Buffer.from(bystander.mac.replace(/:/g, ''), 'hex'), 0xfeed, pxeOptions));
  const offer = client.answers.find((a) => a.packet.readUInt32BE(4) === 0xfeed);
  t.truthy(offer, 'a known machine is offered its address after the flood');
  t.is([...offer!.packet.subarray(16, 20)].join('.'), bystander.address);
});

test.serial('a flood of DISCOVERs from unknown MACs cannot starve a known machine, and pending offers stay capped', async (t) => {
  t.timeout(60_000);
  const client = await relaySocket(t);
  const cap = 32;
  const dhcp = await startDhcp(t, client.port, { maxPendingUnknownOffers: cap });
  const random = prng(fuzzSeed ^ 0xf100d);
  const knownMac = Buffer.from(known.mac.replace(/:/g, ''), 'hex');
  const heapBefore = heapUsed();
  // 20 000 unknown MACs; every 500th packet is the known machine asking, with its own xid.
  const asked: number[] = [];
  await client.send(20_000, dhcp.port, (i) => {
    if (i % 500 === 250) {
      asked.push(0x4b000000 + i);
      return clientPacket(1, knownMac, 0x4b000000 + i, pxeOptions);
    }
    return clientPacket(1, Buffer.concat([Buffer.from([0x02]), random.bytes(5)]), random.int(2 ** 32), pxeOptions);
  });
  const heapAfter = heapUsed();
  const health = dhcp.service.health() as { floodDropped: number; offers: number; errors: number };
  const knownOffers = client.answers.filter((a) => asked.includes(a.packet.readUInt32BE(4)));
  t.log(
    `${asked.length} DISCOVERs from the known machine among 20 000: ${knownOffers.length} offered; ${health.floodDropped} unknown dropped at the cap of ${cap}; ${health.offers} offers pending`,
  );
  t.is(knownOffers.length, asked.length, 'every DISCOVER of the known machine got an offer');
  for (const offer of knownOffers) t.is([...offer.packet.subarray(16, 20)].join('.'), known.address);
  t.true(health.floodDropped > 10_000, `the cap was reached and held (${health.floodDropped} dropped)`);
  t.true(health.offers <= cap + 1, `pending offers: ${health.offers}`);
  t.is(health.errors, 0);
  t.true(heapAfter - heapBefore < 32 * MiB, `heap grew by ${((heapAfter - heapBefore) / MiB).toFixed(1)} MiB`);
});
