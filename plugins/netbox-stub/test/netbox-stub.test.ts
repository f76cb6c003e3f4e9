/**
 * What the NetBox stub sends and how it answers NetBox's refusals: the calls and
 * headers NetBox expects, an unmapped network, a prefix mapped to the wrong block,
 * upstream errors with NetBox's status and words but never the token.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { IpamNetwork } from '@sprout/kernel';
import { NetboxClient, NetboxIpam } from '../src/index.ts';
import { startFakeNetbox, type FakeNetbox } from '@sprout/test-support/fake-netbox.ts';

function stubFor(netbox: FakeNetbox, prefixes: Record<string, number>, token = netbox.token) {
  return new NetboxIpam(new NetboxClient({ pluginId: 'netbox-stub', url: netbox.url, token, timeoutMs: 5_000 }), { url: netbox.url, prefixes }, 'netbox-stub');
}

const network = (cidr: string, gateway: string, ranges: IpamNetwork['ranges'] = []): IpamNetwork => ({
  id: randomUUID(),
  siteId: randomUUID(),
  cidr,
  gateway,
  ranges,
});

async function fake(t: { teardown(fn: () => Promise<void>): void }) {
  const netbox = await startFakeNetbox();
  t.teardown(() => netbox.close());
  return netbox;
}

test("the next address comes from POST available-ips and is a NetBox ip-address marked as Sprout's", async (t) => {
  const netbox = await fake(t);
  const prefix = netbox.addPrefix('198.18.1.0/24');
  const stub = stubFor(netbox, { '198.18.1.0/24': prefix });
  const net = network('198.18.1.0/24', '198.18.1.1', [{ kind: 'reserved', start: '198.18.1.2', end: '198.18.1.4' }]);
  const machineId = randomUUID();
  const made = await stub.allocateAddress({ network: net, machineId, hostname: 'node-1' });
  t.like(made, { address: '198.18.1.5', networkId: net.id, machineId, hostname: 'node-1', provider: 'netbox-stub' });
  t.true(netbox.calls.includes(`POST /api/ipam/prefixes/${prefix}/available-ips/`));
  const ip = netbox.ips.get(Number(made.id))!;
  t.is(ip.address, '198.18.1.5/24');
  t.is(ip.status, 'active');
  t.is(ip.dns_name, 'node-1');
  t.is(ip.description, `sprout-allocation host=node-1 machine=${machineId}`);
  // NetBox offered the gateway and the reserved range first: they are held, never handed out
  const held = [...netbox.ips.values()].filter((i) => i.status === 'reserved').map((i) => i.address);
  t.deepEqual(held, ['198.18.1.1/24', '198.18.1.2/24', '198.18.1.3/24', '198.18.1.4/24']);
  t.deepEqual(
    (await stub.listAllocations(net)).map((a) => a.address),
    ['198.18.1.5'],
  );
  t.is((await stub.allocateAddress({ network: net })).address, '198.18.1.6', 'the holds keep NetBox from offering them again');

  t.like(await stub.findAllocation(net, '198.18.1.5'), { id: made.id, machineId });
  t.true(netbox.calls.includes('GET /api/ipam/ip-addresses/?address=198.18.1.5'));
  await stub.releaseAddress(net, made.id);
  t.true(netbox.calls.includes(`DELETE /api/ipam/ip-addresses/${made.id}/`));
  t.false(netbox.ips.has(Number(made.id)));
});

test("an address someone else created in NetBox is a conflict naming it, and is not listed as Sprout's", async (t) => {
  const netbox = await fake(t);
  const stub = stubFor(netbox, { '198.18.2.0/24': netbox.addPrefix('198.18.2.0/24') });
  const net = network('198.18.2.0/24', '198.18.2.1');
  const res = await fetch(`${netbox.url}/api/ipam/ip-addresses/`, {
    method: 'POST',
    headers: { authorization: `Token ${netbox.token}`, accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify({ address: '198.18.2.7/24', description: 'core switch' }),
  });
  t.is(res.status, 201);
  const err = await t.throwsAsync(stub.allocateAddress({ network: net, address: '198.18.2.7' }));
  t.like(err, { code: 'SPROUT_ERR_CONFLICT' });
  t.regex(err!.message, /198\.18\.2\.7 is already allocated in NetBox \(ip-address \d+: core switch\)/);
  t.deepEqual(await stub.listAllocations(net), []);
  t.is(await stub.findAllocation(net, '198.18.2.7'), undefined);
});

test('a network with no NetBox prefix is a config error naming the CIDR and the config key, before any call', async (t) => {
  const netbox = await fake(t);
  const stub = stubFor(netbox, { '198.18.3.0/24': netbox.addPrefix('198.18.3.0/24') });
  const err = await t.throwsAsync(stub.allocateAddress({ network: network('198.18.4.0/24', '198.18.4.1') }));
  t.like(err, { code: 'SPROUT_ERR_CONFIG' });
  t.regex(err!.message, /network 198\.18\.4\.0\/24 has no NetBox prefix: add "198\.18\.4\.0\/24: <NetBox prefix id>" under plugins\.netbox-stub\.prefixes/);
  await t.throwsAsync(stub.listAllocations(network('198.18.4.0/24', '198.18.4.1')), { code: 'SPROUT_ERR_CONFIG' });
  t.deepEqual(netbox.calls, []);
});

test('a prefix id that NetBox lacks, or that is another block, is a config error saying what NetBox has', async (t) => {
  const netbox = await fake(t);
  const other = netbox.addPrefix('10.20.0.0/16');
  const stub = stubFor(netbox, { '198.18.5.0/24': other, '198.18.6.0/24': 999 });
  const wrong = await t.throwsAsync(stub.allocateAddress({ network: network('198.18.5.0/24', '198.18.5.1') }));
  t.like(wrong, { code: 'SPROUT_ERR_CONFIG' });
  t.regex(
    wrong!.message,
    new RegExp(`plugins\\.netbox-stub\\.prefixes maps 198\\.18\\.5\\.0/24 to NetBox prefix ${other}, which is 10\\.20\\.0\\.0/16 in NetBox`),
  );
  const missing = await t.throwsAsync(stub.allocateAddress({ network: network('198.18.6.0/24', '198.18.6.1') }));
  t.regex(missing!.message, /maps 198\.18\.6\.0\/24 to NetBox prefix 999, which http:\/\/127\.0\.0\.1:\d+ does not have/);
  t.is(netbox.ips.size, 0, 'nothing was allocated in the wrong prefix');
});

test("a token NetBox refuses is a config error with NetBox's status and words, without the token", async (t) => {
  const netbox = await fake(t);
  const stub = stubFor(netbox, { '198.18.7.0/24': netbox.addPrefix('198.18.7.0/24') }, 'not-the-token-4242');
  const err = await t.throwsAsync(stub.allocateAddress({ network: network('198.18.7.0/24', '198.18.7.1') }));
  t.like(err, { code: 'SPROUT_ERR_CONFIG', context: { upstreamStatus: 403 } });
  t.regex(err!.message, /NetBox refused GET \/api\/ipam\/prefixes\/\d+\/ with 403 \(\{"detail":"Invalid token"\}\); check plugins\.netbox-stub\.token/);
  t.notRegex(err!.message, /not-the-token-4242/);
});

test("an upstream failure keeps NetBox's status and a body excerpt, and never echoes the token", async (t) => {
  const netbox = await fake(t);
  const stub = stubFor(netbox, { '198.18.8.0/24': netbox.addPrefix('198.18.8.0/24') });
  const net = network('198.18.8.0/24', '198.18.8.1');
  netbox.failNext(500, { error: `database is locked; request had Token ${netbox.token}`, trace: 'x'.repeat(2000) });
  const err = await t.throwsAsync(stub.listAllocations(net));
  t.like(err, { code: 'SPROUT_ERR_UNAVAILABLE', context: { upstreamStatus: 500 } });
  t.regex(err!.message, /^NetBox answered 500 to GET \/api\/ipam\/prefixes\/\d+\/: \{"error":"database is locked; request had Token \*{8}"/);
  t.false(err!.message.includes(netbox.token));
  t.true(err!.message.length < 500, 'only an excerpt of the body');

  await t.notThrowsAsync(stub.listAllocations(net), 'the next call goes through');
  netbox.failNext(400, { status: ['"bogus" is not a valid choice.'] });
  const refused = await t.throwsAsync(stub.allocateAddress({ network: net }));
  t.like(refused, { code: 'SPROUT_ERR_UNAVAILABLE', context: { upstreamStatus: 400 } });
  t.regex(refused!.message, /NetBox answered 400 to POST \/api\/ipam\/prefixes\/\d+\/available-ips\/: \{"status":\["\\"bogus\\" is not a valid choice\."\]\}/);
});

test('NetBox not answering at all is SPROUT_ERR_UNAVAILABLE naming the URL', async (t) => {
  const netbox = await startFakeNetbox();
  const stub = stubFor(netbox, { '198.18.9.0/24': netbox.addPrefix('198.18.9.0/24') });
  await netbox.close();
  const err = await t.throwsAsync(stub.allocateAddress({ network: network('198.18.9.0/24', '198.18.9.1') }));
  t.like(err, { code: 'SPROUT_ERR_UNAVAILABLE' });
  t.regex(err!.message, /NetBox at http:\/\/127\.0\.0\.1:\d+ did not answer GET \/api\/ipam\/prefixes\/\d+\/: .*ECONNREFUSED/);
});

test('when NetBox refuses to turn an offered gateway into a hold, the address is deleted rather than left as an allocation', async (t) => {
  const netbox = await fake(t);
  const stub = stubFor(netbox, { '198.18.10.0/24': netbox.addPrefix('198.18.10.0/24') });
  const net = network('198.18.10.0/24', '198.18.10.1');
  // POST available-ips goes through (it offers the gateway, .1); the PATCH that would hold it fails
  netbox.failNext(503, { detail: 'maintenance' }, 1, 'PATCH');
  const err = await t.throwsAsync(stub.allocateAddress({ network: net }));
  t.like(err, { code: 'SPROUT_ERR_UNAVAILABLE', context: { upstreamStatus: 503 } });
  t.deepEqual([...netbox.ips.values()], [], 'the gateway was deleted again');
  t.deepEqual(await stub.listAllocations(net), []);
});
