/**
 * What the PowerDNS stub sends and how it answers PowerDNS's refusals: PATCHes with
 * REPLACE and DELETE RRsets and the X-API-Key header, the server id in the path, zones
 * it may not touch, zones PowerDNS lacks, a refused key, and records others made.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { recordsForAddress } from '@sprout/kernel';
import { PowerdnsClient, PowerdnsDns } from '../src/index.ts';
import { startFakePowerdns, type FakePowerdns } from '@sprout/test-support/fake-powerdns.ts';

const zones = ['lab.example', '0.18.198.in-addr.arpa'];

async function fake(t: { teardown(fn: () => Promise<void>): void }, options: Parameters<typeof startFakePowerdns>[0] = { zones }) {
  const pdns = await startFakePowerdns(options);
  t.teardown(() => pdns.close());
  return pdns;
}

function stubFor(pdns: FakePowerdns, config: { zones?: string[]; serverId?: string; apiKey?: string } = {}) {
  return new PowerdnsDns(
    new PowerdnsClient({ pluginId: 'powerdns-stub', url: pdns.url, apiKey: config.apiKey ?? pdns.apiKey, timeoutMs: 5_000 }),
    { serverId: config.serverId ?? 'localhost', zones: config.zones ?? zones, defaultTtl: 300 },
    'powerdns-stub',
  );
}

test('upserting PATCHes each zone with REPLACE RRsets carrying the site; removing PATCHes DELETE', async (t) => {
  const pdns = await fake(t);
  const stub = stubFor(pdns);
  const siteId = randomUUID();
  const [a, ptr] = recordsForAddress({ siteId, hostname: 'node1', domain: 'lab.example', address: '198.18.0.2' });
  await stub.upsertRecords([a, ptr]);
  t.deepEqual(
    pdns.requests.map((r) => `${r.method} ${r.path}`),
    ['PATCH /api/v1/servers/localhost/zones/lab.example.', 'PATCH /api/v1/servers/localhost/zones/0.18.198.in-addr.arpa.'],
  );
  const comments = [{ content: `site=${siteId}`, account: 'sprout' }];
  t.deepEqual(pdns.requests[0].body, {
    rrsets: [{ name: 'node1.lab.example.', type: 'A', ttl: 300, changetype: 'REPLACE', records: [{ content: '198.18.0.2', disabled: false }], comments }],
  });
  t.deepEqual(pdns.requests[1].body, {
    rrsets: [
      {
        name: '2.0.18.198.in-addr.arpa.',
        type: 'PTR',
        ttl: 300,
        changetype: 'REPLACE',
        records: [{ content: 'node1.lab.example.', disabled: false }],
        comments,
      },
    ],
  });
  t.deepEqual(pdns.zones.get('lab.example.')!.get('node1.lab.example. A')!.records, [{ content: '198.18.0.2', disabled: false }]);

  pdns.requests.length = 0;
  await stub.removeRecords([a]);
  t.deepEqual(pdns.requests[0].body, { rrsets: [{ name: 'node1.lab.example.', type: 'A', changetype: 'DELETE' }] });
  t.false(pdns.zones.get('lab.example.')!.has('node1.lab.example. A'));
  t.deepEqual(await stub.listRecords(siteId), [{ ...ptr, ttl: 300 }]);
});

test("records PowerDNS holds that Sprout did not write (SOA, NS, an operator's A) are not listed", async (t) => {
  const pdns = await fake(t);
  pdns.zones
    .get('lab.example.')!
    .set('router.lab.example. A', { name: 'router.lab.example.', type: 'A', ttl: 60, records: [{ content: '198.18.0.254', disabled: false }], comments: [] });
  const stub = stubFor(pdns);
  const siteId = randomUUID();
  await stub.upsertRecords([{ siteId, zone: 'lab.example', name: 'node2.lab.example', type: 'A', value: '198.18.0.3' }]);
  t.deepEqual(await stub.listRecords(siteId), [{ siteId, zone: 'lab.example', name: 'node2.lab.example', type: 'A', value: '198.18.0.3', ttl: 300 }]);
  t.deepEqual(await stub.listRecords(randomUUID()), [], 'another site sees none of them');
  t.true(pdns.zones.get('lab.example.')!.has('router.lab.example. A'), "the operator's record is untouched");
});

test('the server id from config is the one in the path', async (t) => {
  const pdns = await fake(t, { zones, serverId: 'pdns-dc1' });
  const stub = stubFor(pdns, { serverId: 'pdns-dc1' });
  await stub.upsertRecords([{ siteId: randomUUID(), zone: 'lab.example', name: 'node3.lab.example', type: 'A', value: '198.18.0.4', ttl: 60 }]);
  t.is(pdns.requests[0].path, '/api/v1/servers/pdns-dc1/zones/lab.example.');
});

test('a zone config does not list is a config error naming it and the key, and nothing of the batch is sent', async (t) => {
  const pdns = await fake(t);
  const siteId = randomUUID();
  const err = await t.throwsAsync(
    stubFor(pdns).upsertRecords([
      { siteId, zone: 'lab.example', name: 'node4.lab.example', type: 'A', value: '198.18.0.5' },
      { siteId, zone: 'other.example', name: 'node4.other.example', type: 'A', value: '198.18.0.5' },
    ]),
  );
  t.like(err, { code: 'SPROUT_ERR_CONFIG' });
  t.is(err!.message, 'zone other.example is not one powerdns-stub may write: add it to plugins.powerdns-stub.zones (now: lab.example, 0.18.198.in-addr.arpa)');
  await t.throwsAsync(stubFor(pdns).removeRecords([{ siteId, zone: 'other.example', name: 'x.other.example', type: 'A' }]), { code: 'SPROUT_ERR_CONFIG' });
  t.deepEqual(pdns.requests, []);
});

test("a configured zone PowerDNS does not have is a config error with PowerDNS's words", async (t) => {
  const pdns = await fake(t, { zones: ['lab.example'] });
  const stub = stubFor(pdns);
  const err = await t.throwsAsync(stub.listRecords(randomUUID()));
  t.like(err, { code: 'SPROUT_ERR_CONFIG', context: { upstreamStatus: 404 } });
  t.is(
    err!.message,
    "zone 0.18.198.in-addr.arpa (in plugins.powerdns-stub.zones) is not on PowerDNS server localhost: 404 Could not find domain '0.18.198.in-addr.arpa.'; create it in PowerDNS first",
  );
});

test("a refused API key is a config error with PowerDNS's status that does not repeat the key", async (t) => {
  const pdns = await fake(t);
  const err = await t.throwsAsync(
    stubFor(pdns, { apiKey: 'wrong-key-31337' }).upsertRecords([
      { siteId: randomUUID(), zone: 'lab.example', name: 'n.lab.example', type: 'A', value: '198.18.0.6' },
    ]),
  );
  t.like(err, { code: 'SPROUT_ERR_CONFIG', context: { upstreamStatus: 401 } });
  t.is(
    err!.message,
    'PowerDNS refused PATCH /api/v1/servers/localhost/zones/lab.example. with 401 ({"error":"Unauthorized"}); check plugins.powerdns-stub.apiKey',
  );
  t.false(err!.message.includes('wrong-key-31337'));
});

test('PowerDNS not answering is SPROUT_ERR_UNAVAILABLE naming the URL', async (t) => {
  const pdns = await startFakePowerdns({ zones });
  await pdns.close();
  const err = await t.throwsAsync(stubFor(pdns).listRecords(randomUUID()));
  t.like(err, { code: 'SPROUT_ERR_UNAVAILABLE' });
  t.regex(err!.message, /PowerDNS at http:\/\/127\.0\.0\.1:\d+ did not answer GET \/api\/v1\/servers\/localhost\/zones\/lab\.example\.: .*ECONNREFUSED/);
});
