/**
 * Seeded fuzzing of the server's packet handler: 100 000 random and mutated packets.
 * It must never throw, never answer with a packet the codec rejects, and still answer a
 * valid DISCOVER correctly afterwards.
 */
import test from 'ava';
import { decodeDhcp, messageTypes as mt, opt } from '../../src/agent/dhcp-codec.ts';
import { clientPacket, macs, pxe } from '@sprout/test-support/dhcp-site-fixture.ts';
import { harness, only } from './responder-harness.ts';

/** mulberry32: small, seeded, good enough to spread mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seed = Number(process.env.SPROUT_DHCP_FUZZ_SEED ?? 0x5eed);
const packets = 100_000;

test(`${packets} random and mutated packets (seed ${seed}): no throw, no malformed answer, service intact`, (t) => {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const h = harness({ maxPendingUnknownOffers: 64 });
  const seeds = [
    clientPacket({ type: mt.discover, mac: macs.bios, options: [pxe.vendor, pxe.arch(0), pxe.uuid] }),
    clientPacket({
      type: mt.request,
      mac: macs.uefi,
      options: [pxe.vendor, pxe.arch(7), pxe.ipxe, [opt.requestedAddress, Buffer.from([198, 18, 30, 12])], [opt.serverId, Buffer.from([198, 18, 30, 1])]],
    }),
    clientPacket({ type: mt.discover, mac: '52:54:00:12:00:01', giaddr: '198.19.40.1', options: [[opt.relayAgentInfo, Buffer.from([1, 2, 3, 4])]] }),
    clientPacket({ type: mt.inform, mac: macs.noNetboot, ciaddr: '198.18.30.15' }),
    clientPacket({ type: mt.release, mac: macs.bios, ciaddr: '198.18.30.11' }),
    clientPacket({ type: mt.decline, mac: '52:54:00:12:00:02', options: [[opt.requestedAddress, Buffer.from([198, 18, 30, 100])]] }),
  ];
  let replies = 0;
  for (let i = 0; i < packets; i += 1) {
    let packet: Buffer;
    const kind = int(4);
    if (kind === 0) {
      packet = Buffer.alloc(int(700));
      for (let j = 0; j < packet.length; j += 1) packet[j] = int(256);
    } else {
      packet = Buffer.from(seeds[int(seeds.length)]!);
      // A valid header with garbage options: the hardest place for bounds.
      if (kind === 1) for (let j = 240; j < packet.length; j += 1) if (random() < 0.3) packet[j] = int(256);
      const flips = 1 + int(8);
      for (let f = 0; f < flips; f += 1) packet[int(packet.length)] = int(256);
      if (kind === 3) packet = packet.subarray(0, int(packet.length + 1));
      if (random() < 0.1) packet = Buffer.concat([packet, Buffer.alloc(int(300), int(256))]);
      // Keep the client MACs varied so mutated DISCOVERs hit the dynamic range and the flood cap.
      if (random() < 0.5 && packet.length >= 34) packet.writeUInt32BE(int(0xffffffff), 30);
    }
    let out;
    try {
      out = h.send(packet);
    } catch (err) {
      t.fail(`packet ${i} (${packet.toString('hex')}) threw: ${(err as Error).message}`);
      return;
    }
    for (const reply of out) {
      replies += 1;
      const decoded = decodeDhcp(reply.packet);
      if (decoded.op !== 2 || decoded.options.get(opt.messageType) === undefined || !/^\d+\.\d+\.\d+\.\d+$/.test(reply.address)) {
        t.fail(`packet ${i} got a reply that is not a DHCP reply: ${reply.packet.toString('hex')}`);
        return;
      }
    }
  }
  const { counters } = h.responder;
  t.is(counters.received, packets);
  t.true(counters.malformed > packets / 4, `malformed: ${counters.malformed}`);
  t.true(replies > 1000, `the mutations also exercised the answering paths (${replies} replies)`);
  t.deepEqual(h.errors, [], 'no packet reached an unexpected error');
  // No two MACs hold one address after all that.
  const snapshot = h.leases.snapshot().leases;
  t.is(new Set(snapshot.map((l) => l.address)).size, snapshot.length);

  h.clock.now += 3_600_000;
  h.responder.sweep();
  const offer = only(h.send(clientPacket({ type: mt.discover, mac: macs.arm, options: [pxe.vendor, pxe.arch(11)] })));
  t.is(offer.yiaddr, '198.18.30.13');
  t.is(offer.file, 'ipxe-arm64.efi');
  t.is(offer.to, '255.255.255.255');
});
