/** The records a machine address gets, as the plugin re-exports them from the kernel. */
import test from 'ava';
import { recordsForAddress, reverseNameFor, reverseZoneFor } from '../src/index.ts';

const siteId = '6f1c1f7e-0000-4000-8000-000000000001';

test('a machine address gets <hostname>.<domain> A and the PTR in its /24 reverse zone', (t) => {
  t.deepEqual(recordsForAddress({ siteId, hostname: 'node1', domain: 'lab.example', address: '198.18.0.2', ttl: 300 }), [
    { siteId, zone: 'lab.example', name: 'node1.lab.example', type: 'A', value: '198.18.0.2', ttl: 300 },
    { siteId, zone: '0.18.198.in-addr.arpa', name: '2.0.18.198.in-addr.arpa', type: 'PTR', value: 'node1.lab.example', ttl: 300 },
  ]);
});

test('without a TTL the records carry none; names are lowercased and lose the trailing dot', (t) => {
  const [a, ptr] = recordsForAddress({ siteId, hostname: 'Node-7', domain: 'Lab.Example.', address: '198.19.255.254' });
  t.deepEqual(a, { siteId, zone: 'lab.example', name: 'node-7.lab.example', type: 'A', value: '198.19.255.254' });
  t.deepEqual(ptr, { siteId, zone: '255.19.198.in-addr.arpa', name: '254.255.19.198.in-addr.arpa', type: 'PTR', value: 'node-7.lab.example' });
});

test('reverse names and zones follow the octets', (t) => {
  t.is(reverseNameFor('198.18.10.20'), '20.10.18.198.in-addr.arpa');
  t.is(reverseZoneFor('198.18.10.20'), '10.18.198.in-addr.arpa');
});

test('a bad hostname, domain, address or TTL is refused naming the field', (t) => {
  const good = { siteId, hostname: 'node1', domain: 'lab.example', address: '198.18.0.2' };
  const cases: [Partial<typeof good> & { ttl?: number }, string][] = [
    [{ hostname: 'node1.lab' }, 'hostname'],
    [{ hostname: '-node' }, 'hostname'],
    [{ hostname: 'x'.repeat(64) }, 'hostname'],
    [{ domain: 'lab..example' }, 'domain'],
    [{ domain: '' }, 'domain'],
    [{ address: '198.18.0.256' }, 'address'],
    [{ address: '2001:db8::1' }, 'address'],
    [{ ttl: -1 }, 'ttl'],
    [{ ttl: 1.5 }, 'ttl'],
  ];
  for (const [change, field] of cases) {
    const err = t.throws(() => recordsForAddress({ ...good, ...change }), { code: 'SPROUT_ERR_VALIDATION' }, JSON.stringify(change));
    t.is((err as unknown as { details: { field: string }[] }).details[0]?.field, field, JSON.stringify(change));
  }
});
