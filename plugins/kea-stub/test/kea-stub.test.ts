/**
 * What the Kea stub sends and how it answers Kea's refusals: reservation-add with the
 * PXE fields, reservation-del by hw-address, basic auth, an address in no configured
 * subnet, Kea results other than 0 with Kea's text, and a Kea without host_cmds.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { KeaClient, KeaDhcp } from '@sprout/plugin-kea-stub';
import { startFakeKea, type FakeKea } from './fake-kea.ts';

const pxe = { nextServer: '198.18.0.2', bootFileName: 'undionly.kpxe', optionData: [{ name: 'domain-name-servers', data: '198.18.0.3' }] };

async function fake(t: { teardown(fn: () => Promise<void>): void }, options: Parameters<typeof startFakeKea>[0] = { subnets: [7] }) {
  const kea = await startFakeKea(options);
  t.teardown(() => kea.close());
  return kea;
}

function stubFor(kea: FakeKea, credentials: { user?: string; password?: string } = {}) {
  return new KeaDhcp(
    new KeaClient({ pluginId: 'kea-stub', url: kea.url, service: 'dhcp4', timeoutMs: 5_000, ...credentials }),
    { subnets: { '198.18.0.0/24': 7 }, ...pxe },
    'kea-stub',
  );
}

test('a reservation is a Kea host in the mapped subnet with the PXE boot fields and whose it is', async (t) => {
  const kea = await fake(t);
  const stub = stubFor(kea);
  const [siteId, networkId] = [randomUUID(), randomUUID()];
  await stub.reserve({ siteId, networkId, mac: 'AA-BB-CC-00-00-01', address: '198.18.0.10', hostname: 'node1', netboot: true });
  const add = kea.commands.find((c) => c.command === 'reservation-add')!;
  t.deepEqual(add.service, ['dhcp4']);
  t.deepEqual(add.arguments, {
    reservation: {
      'subnet-id': 7,
      'hw-address': 'aa:bb:cc:00:00:01',
      'ip-address': '198.18.0.10',
      hostname: 'node1',
      'next-server': '198.18.0.2',
      'boot-file-name': 'undionly.kpxe',
      'option-data': [{ name: 'domain-name-servers', data: '198.18.0.3' }],
      'user-context': { sprout: { site: siteId, network: networkId, netboot: true } },
    },
  });
  t.like(kea.hosts[0], { 'subnet-id': 7, 'hw-address': 'aa:bb:cc:00:00:01', 'ip-address': '198.18.0.10', 'boot-file-name': 'undionly.kpxe' });
});

test('a machine that may not netboot gets its address but no boot fields', async (t) => {
  const kea = await fake(t);
  await stubFor(kea).reserve({ siteId: randomUUID(), networkId: randomUUID(), mac: 'aa:bb:cc:00:00:02', address: '198.18.0.11', netboot: false });
  t.like(kea.hosts[0], { 'ip-address': '198.18.0.11', 'next-server': '0.0.0.0', 'boot-file-name': '', 'option-data': [] });
});

test('unreserving sends reservation-del by hw-address; Kea\'s "not found" is not an error', async (t) => {
  const kea = await fake(t);
  const stub = stubFor(kea);
  const siteId = randomUUID();
  await stub.reserve({ siteId, networkId: randomUUID(), mac: 'aa:bb:cc:00:00:03', address: '198.18.0.12', netboot: true });
  kea.commands.length = 0;
  await stub.unreserve(siteId, 'AABBCC000003');
  t.deepEqual(kea.commands, [
    { command: 'reservation-del', service: ['dhcp4'], arguments: { 'subnet-id': 7, 'identifier-type': 'hw-address', identifier: 'aa:bb:cc:00:00:03' } },
  ]);
  t.deepEqual(kea.hosts, []);
  await t.notThrowsAsync(stub.unreserve(siteId, 'aa:bb:cc:00:00:03'));
});

test('an address in no configured subnet is a config error naming it and the config key, before any command', async (t) => {
  const kea = await fake(t);
  const err = await t.throwsAsync(
    stubFor(kea).reserve({ siteId: randomUUID(), networkId: randomUUID(), mac: 'aa:bb:cc:00:00:04', address: '198.19.5.5', netboot: true }),
  );
  t.like(err, { code: 'SPROUT_ERR_CONFIG' });
  t.regex(err!.message, /address 198\.19\.5\.5 is in no Kea subnet: add "<network CIDR>: <Kea subnet-id>" for its network under plugins\.kea-stub\.subnets/);
  t.deepEqual(kea.commands, []);
});

test("a Kea result other than 0 is an error carrying Kea's text", async (t) => {
  const kea = await fake(t, { subnets: [8] });
  const err = await t.throwsAsync(
    stubFor(kea).reserve({ siteId: randomUUID(), networkId: randomUUID(), mac: 'aa:bb:cc:00:00:05', address: '198.18.0.13', netboot: true }),
  );
  t.like(err, { code: 'SPROUT_ERR_UNAVAILABLE', context: { keaResult: 1, command: 'reservation-get' } });
  t.is(err!.message, "Kea refused reservation-get (result 1): IPv4 subnet with id '7' does not exist");
});

test('a Kea without the host_cmds hook is a config error saying to load it', async (t) => {
  const kea = await fake(t, { subnets: [7], withoutHostCmds: true });
  const err = await t.throwsAsync(stubFor(kea).listReservations(randomUUID()));
  t.like(err, { code: 'SPROUT_ERR_CONFIG', context: { keaResult: 2 } });
  t.regex(err!.message, /Kea does not support reservation-get-all .*load the host_cmds hook library into dhcp4/);
});

test('basic auth is sent when configured; a refused password is a config error that does not repeat it', async (t) => {
  const kea = await fake(t, { subnets: [7], auth: { user: 'sprout', password: 's3cret-kea' } });
  await t.notThrowsAsync(stubFor(kea, { user: 'sprout', password: 's3cret-kea' }).listReservations(randomUUID()));
  const err = await t.throwsAsync(stubFor(kea, { user: 'sprout', password: 'wrong-pass-77' }).listReservations(randomUUID()));
  t.like(err, { code: 'SPROUT_ERR_CONFIG', context: { upstreamStatus: 401 } });
  t.regex(err!.message, /Kea Control Agent refused reservation-get-all with 401 .*check plugins\.kea-stub\.user and password/);
  t.false(err!.message.includes('wrong-pass-77'));
  await t.throwsAsync(stubFor(kea).listReservations(randomUUID()), { code: 'SPROUT_ERR_CONFIG' });
});

test('Kea not answering is SPROUT_ERR_UNAVAILABLE naming the URL', async (t) => {
  const kea = await startFakeKea({ subnets: [7] });
  await kea.close();
  const err = await t.throwsAsync(stubFor(kea).unreserve(randomUUID(), 'aa:bb:cc:00:00:06'));
  t.like(err, { code: 'SPROUT_ERR_UNAVAILABLE' });
  t.regex(err!.message, /Kea Control Agent at http:\/\/127\.0\.0\.1:\d+\/ did not answer reservation-del: .*ECONNREFUSED/);
});
