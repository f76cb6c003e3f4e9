/** What the DHCP server answers, decided from the site's desired state: addresses, options, PXE, relays, leases. */
import test from 'ava';
import { messageTypes as mt } from '../../src/agent/dhcp-codec.ts';
import { clientPacket, macs, pxe, siteState } from '@sprout/test-support/dhcp-site-fixture.ts';
import { address, addresses, harness, only, opt, text } from './responder-harness.ts';

const discover = (mac: string, options: [number, Buffer][] = [], extra: { giaddr?: string } = {}) =>
  clientPacket({ type: mt.discover, mac, options, ...extra });
const request = (mac: string, addr: string, serverId = '198.18.30.1', options: [number, Buffer][] = [], extra: { giaddr?: string; ciaddr?: string } = {}) =>
  clientPacket({
    type: mt.request,
    mac,
    ...extra,
    options: [
      [opt.requestedAddress, Buffer.from(addr.split('.').map(Number))],
      ...(serverId ? ([[opt.serverId, Buffer.from(serverId.split('.').map(Number))]] as [number, Buffer][]) : []),
      ...options,
    ],
  });

test("a reserved machine is offered its address with mask, router, DNS, domain, hostname, server id and lease time, broadcast to 255.255.255.255 by its network's interface", (t) => {
  const h = harness();
  const offer = only(h.send(discover(macs.noNetboot)));
  t.is(offer.type, mt.offer);
  t.is(offer.op, 2);
  t.is(offer.xid, 0x1234abcd);
  t.is(offer.yiaddr, '198.18.30.15');
  t.is(address(offer, opt.subnetMask), '255.255.255.0');
  t.deepEqual(addresses(offer, opt.router), ['198.18.30.254']);
  t.deepEqual(addresses(offer, opt.dnsServers), ['198.18.30.53', '198.18.30.54']);
  t.is(text(offer, opt.domainName), 'lab.example');
  t.is(text(offer, opt.hostname), 'plain-1');
  t.is(address(offer, opt.serverId), '198.18.30.1');
  t.is(offer.options.get(opt.leaseTime)?.readUInt32BE(), 3600);
  t.is(offer.options.get(opt.bootFileName), undefined);
  // No broadcast flag: a unicast to yiaddr would need an ARP entry Node cannot write; RFC 2131 allows the limited broadcast.
  t.is(offer.to, '255.255.255.255');
  t.is(offer.via, '198.18.30.1');
  t.is(offer.port, 68);
});

test('UEFI PXE firmware (broadcast flag set, no address yet) gets its OFFER and ACK at 255.255.255.255:68, never at the subnet broadcast it drops', (t) => {
  const h = harness();
  const flags = 0x8000;
  const offer = only(h.send(clientPacket({ type: mt.discover, mac: macs.uefi, flags, options: [pxe.vendor, pxe.arch(7)] })));
  t.is(offer.type, mt.offer);
  t.is(offer.yiaddr, '198.18.30.12');
  t.is(offer.flags & 0x8000, 0x8000, 'the reply keeps the broadcast flag');
  t.like(offer, { to: '255.255.255.255', port: 68, via: '198.18.30.1', afterLeaseWrite: undefined });
  t.is(offer.file, 'ipxe.efi');
  const ack = only(
    h.send(
      clientPacket({
        type: mt.request,
        mac: macs.uefi,
        flags,
        options: [[opt.requestedAddress, Buffer.from([198, 18, 30, 12])], [opt.serverId, Buffer.from([198, 18, 30, 1])], pxe.vendor, pxe.arch(7)],
      }),
    ),
  );
  t.is(ack.type, mt.ack);
  t.like(ack, { to: '255.255.255.255', port: 68, via: '198.18.30.1', afterLeaseWrite: true });
  // With ciaddr set (renewing), the flag does not matter: unicast to ciaddr.
  const renew = only(h.send(clientPacket({ type: mt.request, mac: macs.uefi, flags, ciaddr: '198.18.30.12' })));
  t.like(renew, { type: mt.ack, to: '198.18.30.12', port: 68, via: undefined });
  // Relayed with the flag set: to the relay's giaddr on the server port, which broadcasts on its segment.
  const relayed = only(h.send(clientPacket({ type: mt.discover, mac: macs.relayed, flags, giaddr: '198.19.40.1', options: [pxe.vendor, pxe.arch(7)] })));
  t.like(relayed, { to: '198.19.40.1', port: 67, via: undefined });
});

const archCases: [string, string, number, string][] = [
  ['BIOS (0)', macs.bios, 0, 'undionly.kpxe'],
  ['x86-64 UEFI (7)', macs.uefi, 7, 'ipxe.efi'],
  ['x86-64 UEFI (9)', macs.uefi, 9, 'ipxe.efi'],
  ['arm64 UEFI (11)', macs.arm, 11, 'ipxe-arm64.efi'],
];
for (const [title, mac, arch, file] of archCases) {
  test(`PXE firmware ${title} gets ${file}, next-server, options 60/66/67 and the short PXE lease`, (t) => {
    const h = harness();
    const offer = only(h.send(discover(mac, [pxe.vendor, pxe.arch(arch)])));
    t.is(offer.file, file);
    t.is(text(offer, opt.bootFileName), file);
    t.is(offer.siaddr, '198.18.30.1');
    t.is(text(offer, opt.tftpServerName), '198.18.30.1');
    t.is(text(offer, opt.vendorClass), 'PXEClient');
    t.is(offer.options.get(opt.leaseTime)?.readUInt32BE(), 300);
    t.is(offer.options.get(opt.ipxeEncapsulated), undefined);
  });
}

test('bootFiles and nextServer settings replace the defaults', (t) => {
  const h = harness({ bootFiles: { 7: 'snponly.efi' }, nextServer: '198.18.30.2' });
  const offer = only(h.send(discover(macs.uefi, [pxe.vendor, pxe.arch(7)])));
  t.is(offer.file, 'snponly.efi');
  t.is(offer.siaddr, '198.18.30.2');
  t.is(only(h.send(discover(macs.bios, [pxe.vendor, pxe.arch(0)]))).file, 'undionly.kpxe');
});

const httpTargets: [string, Record<string, unknown>, Record<string, Record<string, unknown>>, string][] = [
  ['the http service with its default port', {}, { http: { artifactRoot: '/srv' } }, 'http://198.18.30.1:8080'],
  ['the http service on port 80', {}, { http: { port: 80, artifactRoot: '/srv' } }, 'http://198.18.30.1'],
  ['the http service on one address and port', {}, { http: { address: '198.18.30.7', port: 8081, artifactRoot: '/srv' } }, 'http://198.18.30.7:8081'],
  ['the http service with a baseUrl', {}, { http: { baseUrl: 'https://boot.lab.example/', port: 8081, artifactRoot: '/srv' } }, 'https://boot.lab.example'],
  ['httpBootUrl, over the http service', { httpBootUrl: 'http://10.1.1.1:9000/' }, { http: { port: 8081, artifactRoot: '/srv' } }, 'http://10.1.1.1:9000'],
  ['no http service in this agent', {}, { tftp: {} }, 'http://198.18.30.1:8080'],
];
for (const [title, settings, services, base] of httpTargets) {
  test(`without httpBootUrl iPXE goes where the agent's HTTP service listens: ${title}`, (t) => {
    const h = harness(settings, siteState(), services);
    const offer = only(h.send(discover(macs.uefi, [pxe.vendor, pxe.arch(7), pxe.ipxe])));
    t.is(text(offer, opt.bootFileName), `${base}/boot/ipxe?mac=${macs.uefi}`);
  });
}

test('iPXE (user class 77) gets the HTTP boot-script URL and 175.176 = 1', (t) => {
  const h = harness();
  const offer = only(h.send(discover(macs.uefi, [pxe.vendor, pxe.arch(7), pxe.ipxe])));
  const url = `http://198.18.30.1:8080/boot/ipxe?mac=${macs.uefi}`;
  t.is(text(offer, opt.bootFileName), url);
  t.is(offer.file, url);
  t.deepEqual(offer.options.get(opt.ipxeEncapsulated), Buffer.from([176, 1, 1]));
  // RFC 3004 spelling (length-prefixed) is recognised too.
  const rfc = only(h.send(discover(macs.bios, [[opt.userClass, Buffer.from('\x04iPXE', 'latin1')]])));
  t.is(text(rfc, opt.bootFileName), `http://198.18.30.1:8080/boot/ipxe?mac=${macs.bios}`);
});

test('no boot intent or netboot off: the address without boot options, and an event saying why', (t) => {
  const h = harness();
  const a = only(h.send(discover(macs.noIntent, [pxe.vendor, pxe.arch(7)])));
  t.is(a.yiaddr, '198.18.30.14');
  t.is(a.options.get(opt.bootFileName), undefined);
  t.is(a.file, '');
  t.is(a.siaddr, '0.0.0.0');
  const b = only(h.send(discover(macs.noNetboot, [pxe.vendor, pxe.arch(7)])));
  t.is(b.yiaddr, '198.18.30.15');
  t.is(b.options.get(opt.bootFileName), undefined);
  t.deepEqual(
    h.reports.filter((r) => r.kind === 'dhcp.netboot-refused').map((r) => r.payload),
    [
      { mac: macs.noIntent, networkId: 'net-prov', reason: 'no-boot-intent' },
      { mac: macs.noNetboot, networkId: 'net-prov', reason: 'netboot-disabled' },
    ],
  );
  // A retrying client is one event, not one per DISCOVER.
  h.send(discover(macs.noIntent, [pxe.vendor, pxe.arch(7)]));
  t.is(h.reports.filter((r) => r.kind === 'dhcp.netboot-refused').length, 2);
});

test('an unknown architecture gets an address, no boot file, and an event', (t) => {
  const h = harness();
  const offer = only(h.send(discover(macs.uefi, [pxe.vendor, pxe.arch(0x19)])));
  t.is(offer.yiaddr, '198.18.30.12');
  t.is(offer.options.get(opt.bootFileName), undefined);
  t.like(h.reports.find((r) => r.kind === 'dhcp.netboot-refused')?.payload, { reason: 'unsupported-arch', arch: 0x19 });
});

test('REQUEST for the offered address is ACKed, bound, and reported with the PXE UUID', (t) => {
  const h = harness();
  only(h.send(discover(macs.bios, [pxe.vendor, pxe.arch(0), pxe.uuid])));
  const ack = only(h.send(request(macs.bios, '198.18.30.11', '198.18.30.1', [pxe.vendor, pxe.arch(0), pxe.uuid])));
  t.is(ack.type, mt.ack);
  t.is(ack.yiaddr, '198.18.30.11');
  t.is(ack.file, 'undionly.kpxe');
  t.like(h.leases.get(macs.bios), { address: '198.18.30.11', state: 'bound', uuid: '01234567-89ab-cdef-0123-456789abcdef' });
  const lease = h.reports.find((r) => r.kind === 'dhcp.lease')?.payload;
  t.deepEqual(lease, {
    mac: macs.bios,
    address: '198.18.30.11',
    networkId: 'net-prov',
    state: 'bound',
    expiresAt: new Date(h.clock.now + 300_000).toISOString(),
    uuid: '01234567-89ab-cdef-0123-456789abcdef',
    hostname: 'bios-1',
  });
});

test('a REQUEST naming another server is ignored and our offer withdrawn', (t) => {
  const h = harness();
  only(h.send(discover(macs.bios)));
  t.deepEqual(h.send(request(macs.bios, '198.18.30.11', '198.18.30.99')), []);
  t.is(h.leases.get(macs.bios), undefined);
});

test("REQUEST for an address that is not the client's is NAKed", (t) => {
  const h = harness();
  const nak = only(h.send(request(macs.bios, '198.18.30.77')));
  t.is(nak.type, mt.nak);
  t.is(nak.yiaddr, '0.0.0.0');
  t.is(address(nak, opt.serverId), '198.18.30.1');
  t.is(nak.to, '255.255.255.255');
  t.is(nak.via, '198.18.30.1');
  // INIT-REBOOT from another subnet: NAK even without a server id.
  t.is(only(h.send(request(macs.unknown, '10.9.9.9', ''))).type, mt.nak);
});

test('renewal (ciaddr set) is answered by unicast to ciaddr', (t) => {
  const h = harness();
  h.send(discover(macs.noNetboot));
  h.send(request(macs.noNetboot, '198.18.30.15'));
  const renew = clientPacket({ type: mt.request, mac: macs.noNetboot, ciaddr: '198.18.30.15' });
  const ack = only(h.send(renew));
  t.is(ack.type, mt.ack);
  t.is(ack.ciaddr, '198.18.30.15');
  t.is(ack.to, '198.18.30.15');
});

test('unknown MACs get dynamic addresses, are reported, and never share one; an exhausted range offers nothing', (t) => {
  const h = harness();
  const given = new Set<string>();
  for (let i = 0; i < 10; i += 1) {
    const mac = `52:54:00:00:aa:${i.toString(16).padStart(2, '0')}`;
    const offer = only(h.send(discover(mac)));
    t.is(only(h.send(request(mac, offer.yiaddr))).type, mt.ack);
    given.add(offer.yiaddr);
  }
  t.is(given.size, 10);
  for (const a of given) t.regex(a, /^198\.18\.30\.10\d$/);
  // The same MAC asking again keeps its address.
  t.is(only(h.send(discover('52:54:00:00:aa:03'))).yiaddr, h.leases.get('52:54:00:00:aa:03')!.address);
  t.deepEqual(h.send(discover('52:54:00:00:bb:01')), []);
  // A released address is handed out again once the exhausted range is rescanned.
  const freed = h.leases.get('52:54:00:00:aa:05')!.address;
  h.send(clientPacket({ type: mt.release, mac: '52:54:00:00:aa:05', ciaddr: freed }));
  h.clock.now += 1500;
  t.is(only(h.send(discover('52:54:00:00:bb:02'))).yiaddr, freed);
  const unknown = h.reports.filter((r) => r.kind === 'dhcp.unknown-mac').map((r) => r.payload);
  t.is(unknown.length, 12);
  t.deepEqual(unknown[10], { mac: '52:54:00:00:bb:01', networkId: 'net-prov', offered: null });
  t.like(unknown[0], { networkId: 'net-prov', offered: '198.18.30.100' });
});

test('an unknown MAC on a network without a dynamic range gets nothing but is reported', (t) => {
  const h = harness();
  t.deepEqual(h.send(discover(macs.unknown, [], { giaddr: '198.19.40.1' })), []);
  t.deepEqual(
    h.reports.map((r) => r.payload),
    [{ mac: macs.unknown, networkId: 'net-far', offered: null }],
  );
});

test('relayed: the network containing giaddr, the answer to giaddr:67, option 82 echoed', (t) => {
  const h = harness();
  const agentInfo: [number, Buffer] = [opt.relayAgentInfo, Buffer.from([1, 4, 0, 0, 0, 7])];
  const offer = only(h.send(discover(macs.relayed, [pxe.vendor, pxe.arch(7), agentInfo], { giaddr: '198.19.40.1' })));
  t.is(offer.yiaddr, '198.19.40.20');
  t.is(offer.to, '198.19.40.1');
  t.is(offer.port, 67);
  t.is(offer.giaddr, '198.19.40.1');
  t.deepEqual(offer.options.get(opt.relayAgentInfo), agentInfo[1]);
  t.is(address(offer, opt.serverId), '198.18.30.1');
  t.is(address(offer, opt.subnetMask), '255.255.255.0');
  t.deepEqual(addresses(offer, opt.router), ['198.19.40.1']);
  t.is(offer.file, 'ipxe.efi');
  // A relay in no network we know: no answer.
  t.deepEqual(h.send(discover(macs.relayed, [], { giaddr: '203.0.113.1' })), []);
});

test('DECLINE quarantines the address: the next client gets another one', (t) => {
  const h = harness();
  const a = '52:54:00:00:cc:01';
  const offer = only(h.send(discover(a)));
  only(h.send(request(a, offer.yiaddr)));
  const decline = clientPacket({
    type: mt.decline,
    mac: a,
    options: [
      [opt.requestedAddress, Buffer.from(offer.yiaddr.split('.').map(Number))],
      [opt.serverId, Buffer.from([198, 18, 30, 1])],
    ],
  });
  t.deepEqual(h.send(decline), []);
  t.true(h.leases.isQuarantined(offer.yiaddr));
  t.not(only(h.send(discover('52:54:00:00:cc:02'))).yiaddr, offer.yiaddr);
  t.not(only(h.send(discover(a))).yiaddr, offer.yiaddr);
  t.like(h.reports.find((r) => r.kind === 'dhcp.lease' && r.payload.state === 'declined')?.payload, { mac: a, address: offer.yiaddr });
  h.clock.now += 601_000;
  t.false(h.leases.isQuarantined(offer.yiaddr));
});

test('RELEASE frees the address for another client', (t) => {
  const h = harness();
  const first = '52:54:00:00:dd:01';
  const offer = only(h.send(discover(first)));
  only(h.send(request(first, offer.yiaddr)));
  t.deepEqual(h.send(clientPacket({ type: mt.release, mac: first, ciaddr: offer.yiaddr, options: [[opt.serverId, Buffer.from([198, 18, 30, 1])]] })), []);
  t.is(h.leases.get(first), undefined);
  t.like(h.reports.at(-1)?.payload, { state: 'released', address: offer.yiaddr });
  t.is(h.leases.holder(offer.yiaddr), undefined);
});

test('INFORM gets configuration without an address or lease time', (t) => {
  const h = harness();
  const ack = only(h.send(clientPacket({ type: mt.inform, mac: macs.noNetboot, ciaddr: '198.18.30.15' })));
  t.is(ack.type, mt.ack);
  t.is(ack.yiaddr, '0.0.0.0');
  t.is(ack.options.get(opt.leaseTime), undefined);
  t.deepEqual(addresses(ack, opt.router), ['198.18.30.254']);
  t.is(ack.to, '198.18.30.15');
});

test('leases expire: an expired bound lease is swept, reported, and its address reusable', (t) => {
  const oneAddress = siteState({ networks: [{ ...siteState().networks![0]!, ranges: [{ kind: 'dynamic', start: '198.18.30.100', end: '198.18.30.100' }] }] });
  const h = harness({ leaseSeconds: 120 }, oneAddress);
  const mac = '52:54:00:00:ee:01';
  const offer = only(h.send(discover(mac)));
  only(h.send(request(mac, offer.yiaddr)));
  t.deepEqual(h.send(discover('52:54:00:00:ee:02')), [], 'the only address is taken');
  h.clock.now += 121_000;
  h.responder.sweep();
  t.like(h.reports.at(-1), { kind: 'dhcp.lease', payload: { state: 'expired', mac, address: offer.yiaddr } });
  t.is(h.leases.holder(offer.yiaddr), undefined);
  t.is(only(h.send(discover('52:54:00:00:ee:02'))).yiaddr, offer.yiaddr);
});

test('an unknown-MAC flood cannot starve known machines: pending unknown offers are capped', (t) => {
  const h = harness({ maxPendingUnknownOffers: 3 });
  const answered = [0, 1, 2, 3, 4, 5].map((i) => h.send(discover(`52:54:00:00:ff:0${i}`)).length);
  t.deepEqual(answered, [1, 1, 1, 0, 0, 0]);
  t.is(h.responder.counters.floodDropped, 3);
  t.is(only(h.send(discover(macs.bios, [pxe.vendor, pxe.arch(0)]))).yiaddr, '198.18.30.11');
  // Offers lapse; unknown clients are served again.
  h.clock.now += 31_000;
  t.is(h.send(discover('52:54:00:00:ff:09')).length, 1);
});

test('a reserved address held by another MAC is not offered twice; a conflict is reported', (t) => {
  const h = harness();
  const squatter = '52:54:00:00:12:34';
  // The squatter got .11 dynamically before the reservation existed.
  h.state.current = siteState({
    reservations: [],
    networks: [{ ...siteState().networks![0]!, ranges: [{ kind: 'dynamic', start: '198.18.30.11', end: '198.18.30.11' }] }],
  });
  only(h.send(request(squatter, '198.18.30.11', '')));
  h.state.current = siteState();
  t.deepEqual(h.send(discover(macs.bios)), []);
  t.like(h.reports.find((r) => r.kind === 'dhcp.address-conflict')?.payload, { mac: macs.bios, address: '198.18.30.11', heldBy: squatter });
});

test('packets that are not client DHCP messages are dropped and counted', (t) => {
  const h = harness();
  t.deepEqual(h.send(Buffer.from('not dhcp')), []);
  t.is(h.responder.counters.malformed, 1);
  const offerFromClient = clientPacket({ type: mt.offer, mac: macs.bios });
  t.deepEqual(h.send(offerFromClient), []);
  t.is(h.responder.counters.ignored['not-a-client-message'], 1);
  t.is(h.errors.length, 0);
});

test('what the wire cannot carry in the desired state is left out or reported, never a reason to stop answering', (t) => {
  const base = siteState();
  const h = harness(
    {},
    siteState({
      networks: [{ ...base.networks![0]!, dnsServers: ['2001:db8::53', '198.18.30.53'], gateway: 'fe80::1' }, base.networks![1]!],
      reservations: [
        ...base.reservations!,
        { siteId: 'site-1', networkId: 'net-prov', mac: '52:54:00:00:00:31', address: '10.0.0.5', netboot: false },
        { siteId: 'site-1', networkId: 'net-nowhere', mac: '52:54:00:00:00:32', address: '198.18.30.40', netboot: false },
      ],
    }),
  );
  const offer = only(h.send(discover(macs.noNetboot)));
  t.deepEqual(addresses(offer, opt.dnsServers), ['198.18.30.53']);
  t.is(offer.options.get(opt.router), undefined);
  t.not(only(h.send(discover('52:54:00:00:00:31'))).yiaddr, '10.0.0.5');
  t.deepEqual(
    h.reports.filter((r) => r.kind === 'dhcp.reservation-unusable').map((r) => r.payload.reason),
    ['address-outside-network', 'unknown-network'],
  );
  t.deepEqual(h.errors, []);
});

test('a full dynamic range offers again as soon as a lease is freed (release, decline or expiry), without waiting out its rescan pause', (t) => {
  const h = harness();
  const bind = (mac: string) => {
    const offer = only(h.send(discover(mac)));
    t.is(only(h.send(request(mac, offer.yiaddr))).type, mt.ack);
    return offer.yiaddr;
  };
  const held = [...Array(10).keys()].map((i) => bind(`52:54:00:00:dd:${i.toString(16).padStart(2, '0')}`));
  t.is(new Set(held).size, 10);
  // The range is full: nothing to offer, and the empty scan is remembered.
  t.deepEqual(h.send(discover('52:54:00:00:ee:01')), []);
  t.deepEqual(h.send(discover('52:54:00:00:ee:02')), []);
  // The clock never moves in this test: only the freed lease can make the next offer possible.
  h.send(clientPacket({ type: mt.release, mac: '52:54:00:00:dd:03', ciaddr: held[3] }));
  t.is(only(h.send(discover('52:54:00:00:ee:03'))).yiaddr, held[3]);
  t.is(only(h.send(request('52:54:00:00:ee:03', held[3]!))).type, mt.ack);
  t.deepEqual(h.send(discover('52:54:00:00:ee:04')), [], 'full again');
  // DECLINE quarantines the address it frees: still nothing to offer, and no error.
  h.send(
    clientPacket({
      type: mt.decline,
      mac: '52:54:00:00:dd:04',
      options: [
        [opt.requestedAddress, Buffer.from(held[4]!.split('.').map(Number))],
        [opt.serverId, Buffer.from([198, 18, 30, 1])],
      ],
    }),
  );
  t.deepEqual(h.send(discover('52:54:00:00:ee:05')), []);
  // An expired lease frees its address when the sweep finds it.
  h.leases.put({ ...h.leases.get('52:54:00:00:dd:07')!, expiresAt: h.clock.now });
  h.responder.sweep();
  t.is(only(h.send(discover('52:54:00:00:ee:06'))).yiaddr, held[7]);
});
