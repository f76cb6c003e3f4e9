/** IPv4 arithmetic and the network model built on it: parsing, blocks, ranges, utilisation. */
import test from 'ava';
import { blockSize, broadcastOf, cidrContains, formatCidr, formatIpv4, intervalsOverlap, parseCidr, parseIpv4, usableHostsOf } from '../src/net/ipv4.ts';
import { parseNetworkSpec } from '../src/domain/networks/network-spec.ts';
import { utilisationOf } from '../src/domain/networks/utilisation.ts';

test('addresses parse strictly and round-trip, including above 128.0.0.0', (t) => {
  t.is(parseIpv4('0.0.0.0'), 0);
  t.is(parseIpv4('198.18.0.1'), 198 * 2 ** 24 + 18 * 2 ** 16 + 1);
  t.is(parseIpv4('255.255.255.255'), 2 ** 32 - 1);
  for (const text of ['198.18.0.1', '255.255.255.255', '128.0.0.0', '10.0.0.255']) t.is(formatIpv4(parseIpv4(text)!), text);
  for (const bad of ['256.0.0.1', '198.18.0', '198.18.0.1.2', '198.018.0.1', ' 198.18.0.1', '198.18.0.1/32', '', '::1', '1e2.0.0.1'])
    t.is(parseIpv4(bad), null, bad);
});

test('CIDR blocks: network, broadcast, usable hosts and host bits', (t) => {
  const c = parseCidr('198.18.0.0/24')!;
  t.like(c, { network: parseIpv4('198.18.0.0')!, prefix: 24, hostBitsSet: false });
  t.is(formatIpv4(broadcastOf(c)), '198.18.0.255');
  t.like(usableHostsOf(c), { start: parseIpv4('198.18.0.1')!, end: parseIpv4('198.18.0.254')!, count: 254 });
  t.true(cidrContains(c, parseIpv4('198.18.0.255')!));
  t.false(cidrContains(c, parseIpv4('198.18.1.0')!));

  const withHostBits = parseCidr('198.18.3.7/22')!;
  t.true(withHostBits.hostBitsSet);
  t.is(formatCidr(withHostBits), '198.18.0.0/22');
  t.is(usableHostsOf(parseCidr('198.18.0.0/30')!).count, 2);
  t.is(usableHostsOf(parseCidr('198.18.0.0/32')!).count, 0);
  t.is(formatIpv4(broadcastOf(parseCidr('240.0.0.0/4')!)), '255.255.255.255');
  t.is(blockSize(0), 2 ** 32);
  for (const bad of ['198.18.0.0', '198.18.0.0/33', '198.18.0.0/-1', '198.18.0.0/024', '198.18.0/24']) t.is(parseCidr(bad), null, bad);
});

test('intervals overlap when they share one address', (t) => {
  t.true(intervalsOverlap({ start: 1, end: 5 }, { start: 5, end: 9 }));
  t.false(intervalsOverlap({ start: 1, end: 4 }, { start: 5, end: 9 }));
  t.true(intervalsOverlap({ start: 1, end: 9 }, { start: 3, end: 4 }));
});

test('a network spec reports every problem with its field, and sorts its ranges', (t) => {
  const spec = parseNetworkSpec({
    name: 'prov',
    cidr: '198.18.0.0/24',
    gateway: '198.18.0.1',
    ranges: [
      { kind: 'reserved', start: '198.18.0.200', end: '198.18.0.210' },
      { kind: 'dynamic', start: '198.18.0.100', end: '198.18.0.199' },
    ],
  });
  t.deepEqual(
    spec.ranges.map((r) => [r.kind, formatIpv4(r.start), r.index]),
    [
      ['dynamic', '198.18.0.100', 1],
      ['reserved', '198.18.0.200', 0],
    ],
  );

  const err = t.throws(() =>
    parseNetworkSpec({
      name: '6f1c2d3e-0000-4000-8000-000000000000',
      cidr: '198.18.0.0/24',
      gateway: '198.18.0.150',
      ranges: [
        { kind: 'dynamic', start: '198.18.0.100', end: '198.18.0.199' },
        { kind: 'reserved', start: '198.18.0.199', end: '198.18.0.210' },
        { kind: 'reserved', start: '198.18.0.0', end: '198.18.0.5' },
      ],
    }),
  ) as unknown as { code: string; details: { field: string; message: string }[] };
  t.is(err.code, 'SPROUT_ERR_VALIDATION');
  t.deepEqual(err.details.map((d) => d.field).sort(), ['body/gateway', 'body/name', 'body/ranges/1', 'body/ranges/2']);
  t.regex(err.details.find((d) => d.field === 'body/ranges/1')!.message, /overlaps dynamic range 198\.18\.0\.100-198\.18\.0\.199 \(ranges\/0\)/);
});

test('utilisation: free is what neither allocations, ranges nor the gateway use', (t) => {
  const network = {
    cidr: parseCidr('198.18.0.0/24')!,
    ranges: [
      { kind: 'dynamic' as const, start: parseIpv4('198.18.0.100')!, end: parseIpv4('198.18.0.199')! },
      { kind: 'reserved' as const, start: parseIpv4('198.18.0.2')!, end: parseIpv4('198.18.0.9')! },
    ],
  };
  t.deepEqual(utilisationOf(network, 3), { total: 254, allocated: 3, dynamic: 100, reserved: 8, free: 142 });
  t.deepEqual(utilisationOf({ cidr: parseCidr('198.18.0.0/30')!, ranges: [] }, 1), { total: 2, allocated: 1, dynamic: 0, reserved: 0, free: 0 });
});
