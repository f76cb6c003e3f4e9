/**
 * The agent's DNS service answering `dig` on loopback: the site's A and PTR records,
 * SOA and NS, negative answers, TCP, desired-state updates and the serial.
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { dig, digShort, labState, soaSerial, startDns } from '@sprout/test-support/dns-fixture.ts';

const machines: [string, string][] = [
  ['node1', '198.18.40.10'],
  ['node2', '198.18.40.11'],
];

test('A and PTR records of the machines are answered authoritatively', async (t) => {
  const dns = await startDns(labState(machines));
  t.teardown(() => dns.stop());
  t.deepEqual(await digShort(dns.port, 'node1.lab.example', 'A'), ['198.18.40.10']);
  t.deepEqual(await digShort(dns.port, 'node2.lab.example', 'A'), ['198.18.40.11']);
  t.deepEqual(await digShort(dns.port, '-x', '198.18.40.11'), ['node2.lab.example.']);

  const full = await dig(dns.port, 'node1.lab.example', 'A');
  t.is(full.status, 'NOERROR');
  t.true(full.flags.includes('aa'), full.raw);
  t.deepEqual(full.answer, [['node1.lab.example.', '300', 'IN', 'A', '198.18.40.10']]);
});

test('SOA and NS of the forward and the reverse zone name the agent', async (t) => {
  const dns = await startDns(labState(machines));
  t.teardown(() => dns.stop());
  const [soa] = await digShort(dns.port, 'lab.example', 'SOA');
  const [mname, rname, serial, refresh, retry, expire, minimum] = soa.split(' ');
  t.is(mname, 'ns1.lab.example.');
  t.is(rname, 'hostmaster.lab.example.');
  t.true(Number(serial) >= 1);
  t.deepEqual([refresh, retry, expire, minimum], ['3600', '600', '1209600', '60']);
  t.deepEqual(await digShort(dns.port, 'lab.example', 'NS'), ['ns1.lab.example.']);
  // The reverse zone's nameserver is the one of the forward zone its PTRs point into.
  t.deepEqual(await digShort(dns.port, '40.18.198.in-addr.arpa', 'NS'), ['ns1.lab.example.']);
  const [reverseSoa] = await digShort(dns.port, '40.18.198.in-addr.arpa', 'SOA');
  t.is(reverseSoa.split(' ')[1], 'hostmaster.40.18.198.in-addr.arpa.');
});

test('a configured nameserver and its address are served, with the address as glue', async (t) => {
  const dns = await startDns(labState(machines), { settings: { nameserver: 'dns.lab.example', nameserverAddress: '198.18.40.2', ttl: 120 } });
  t.teardown(() => dns.stop());
  const ns = await dig(dns.port, 'lab.example', 'NS');
  t.deepEqual(ns.answer, [['lab.example.', '120', 'IN', 'NS', 'dns.lab.example.']]);
  t.deepEqual(
    ns.additional.filter((rr) => rr[3] === 'A'),
    [['dns.lab.example.', '120', 'IN', 'A', '198.18.40.2']],
  );
  t.deepEqual(await digShort(dns.port, 'dns.lab.example', 'A'), ['198.18.40.2']);
});

test('queries over TCP are answered', async (t) => {
  const dns = await startDns(labState(machines));
  t.teardown(() => dns.stop());
  const result = await dig(dns.port, '+tcp', 'node2.lab.example', 'A');
  t.regex(result.server, /\(TCP\)/);
  t.deepEqual(result.answer, [['node2.lab.example.', '300', 'IN', 'A', '198.18.40.11']]);
  t.deepEqual(await digShort(dns.port, '+tcp', '-x', '198.18.40.10'), ['node1.lab.example.']);
});

test('an unknown name inside a zone is NXDOMAIN with the zone SOA in the authority section', async (t) => {
  const dns = await startDns(labState(machines));
  t.teardown(() => dns.stop());
  const result = await dig(dns.port, 'nope.lab.example', 'A');
  t.is(result.status, 'NXDOMAIN');
  t.true(result.flags.includes('aa'), result.raw);
  t.deepEqual(result.answer, []);
  t.is(result.authority.length, 1);
  t.deepEqual(result.authority[0].slice(0, 6), ['lab.example.', '60', 'IN', 'SOA', 'ns1.lab.example.', 'hostmaster.lab.example.']);

  const reverse = await dig(dns.port, '-x', '198.18.40.99');
  t.is(reverse.status, 'NXDOMAIN');
  t.is(reverse.authority[0][0], '40.18.198.in-addr.arpa.');
});

test('a name that exists without the asked type is NOERROR with no answer and the SOA', async (t) => {
  const dns = await startDns(labState(machines));
  t.teardown(() => dns.stop());
  const result = await dig(dns.port, 'node1.lab.example', 'AAAA');
  t.is(result.status, 'NOERROR');
  t.true(result.flags.includes('aa'));
  t.deepEqual(result.answer, []);
  t.is(result.authority[0][3], 'SOA');
});

test('a name outside every served zone is REFUSED', async (t) => {
  const dns = await startDns(labState(machines));
  t.teardown(() => dns.stop());
  const outside = await dig(dns.port, 'www.example.org', 'A');
  t.is(outside.status, 'REFUSED');
  t.false(outside.flags.includes('aa'));
  t.is((await dig(dns.port, '-x', '198.18.41.10')).status, 'REFUSED');
  // The parent of a served zone is outside it too.
  t.is((await dig(dns.port, 'example', 'SOA')).status, 'REFUSED');
});

test('the client spelling of a name is echoed in the question', async (t) => {
  const dns = await startDns(labState(machines));
  t.teardown(() => dns.stop());
  const result = await dig(dns.port, 'NoDe1.LAB.example', 'A');
  t.is(result.status, 'NOERROR');
  t.regex(result.raw, /;NoDe1\.LAB\.example\.\s+IN\s+A/);
  t.notRegex(result.raw, /mismatch/i);
  // Authoritative only: dig warns that recursion is not available.
  t.false(result.flags.includes('ra'));
  t.is(result.answer[0][4], '198.18.40.10');
});

test('a new desired state is answered at once and the SOA serial goes up', async (t) => {
  const dns = await startDns(labState(machines));
  t.teardown(() => dns.stop());
  const before = await soaSerial(dns.port, 'lab.example');
  const reverseBefore = await soaSerial(dns.port, '40.18.198.in-addr.arpa');

  dns.publish(
    labState([
      ['node1', '198.18.40.12'],
      ['node3', '198.18.40.13'],
    ]),
  );
  t.deepEqual(await digShort(dns.port, 'node1.lab.example', 'A'), ['198.18.40.12']);
  t.deepEqual(await digShort(dns.port, 'node3.lab.example', 'A'), ['198.18.40.13']);
  t.deepEqual(await digShort(dns.port, '-x', '198.18.40.13'), ['node3.lab.example.']);
  t.is((await dig(dns.port, 'node2.lab.example', 'A')).status, 'NXDOMAIN');
  t.is((await dig(dns.port, '-x', '198.18.40.11')).status, 'NXDOMAIN');
  const after = await soaSerial(dns.port, 'lab.example');
  t.true(after > before, `serial ${before} → ${after}`);
  t.true((await soaSerial(dns.port, '40.18.198.in-addr.arpa')) > reverseBefore);

  // The same content again does not move the serial.
  dns.publish(
    labState([
      ['node1', '198.18.40.12'],
      ['node3', '198.18.40.13'],
    ]),
  );
  t.is(await soaSerial(dns.port, 'lab.example'), after);
  t.like(dns.service.health(), { zones: ['40.18.198.in-addr.arpa', 'lab.example'], records: 4, serial: after, errors: 0 });
});

test('the serial survives a restart: kept for the same records, higher for changed ones', async (t) => {
  const first = await startDns(labState(machines));
  // Registered first, so the data directory goes even when an assertion fails midway.
  t.teardown(() => rm(first.dataDir, { recursive: true, force: true }));
  const serial = await soaSerial(first.port, 'lab.example').finally(() => first.stop({ keepData: true }));

  const same = await startDns(labState(machines), { dataDir: first.dataDir });
  t.teardown(() => same.stop({ keepData: true }));
  t.is(await soaSerial(same.port, 'lab.example'), serial);
  await same.stop({ keepData: true });

  const changed = await startDns(labState([['node1', '198.18.40.10']]), { dataDir: first.dataDir });
  t.teardown(() => changed.stop({ keepData: true }));
  t.true((await soaSerial(changed.port, 'lab.example')) > serial);
  t.is(readFileSync(join(first.dataDir, 'dns', 'serial'), 'utf8').trim(), String(serial + 1));
});

test('health counts zones, records and answered queries', async (t) => {
  const dns = await startDns(labState(machines));
  t.teardown(() => dns.stop());
  await digShort(dns.port, 'node1.lab.example', 'A');
  await dig(dns.port, 'nope.lab.example', 'A');
  await dig(dns.port, 'example.org', 'A');
  t.like(dns.service.health(), {
    listening: `127.0.0.1:${dns.port}`,
    zones: ['40.18.198.in-addr.arpa', 'lab.example'],
    records: 4,
    rejectedRecords: 0,
    queriesAnswered: 3,
    errors: 0,
    byRcode: { NOERROR: 1, NXDOMAIN: 1, REFUSED: 1 },
  });
});

test('a port already in use is reported as an error that names it', async (t) => {
  const dns = await startDns(labState(machines));
  t.teardown(() => dns.stop());
  const error = await t.throwsAsync(startDns(labState(machines), { settings: { port: dns.port } }));
  t.regex(error!.message, new RegExp(`127\\.0\\.0\\.1:${dns.port}`));
});

test('an answer too large for UDP sets TC, and dig gets all of it by retrying over TCP', async (t) => {
  const state = labState(machines);
  state.dnsRecords!.push(
    ...Array.from({ length: 70 }, (_, i) => ({
      siteId: state.site!.id,
      zone: 'lab.example',
      name: 'pool.lab.example',
      type: 'A' as const,
      value: `198.18.40.${100 + i}`,
    })),
  );
  const dns = await startDns(state);
  t.teardown(() => dns.stop());
  const truncated = await dig(dns.port, '+noedns', '+ignore', 'pool.lab.example', 'A');
  t.true(truncated.flags.includes('tc'), truncated.raw);
  t.deepEqual(truncated.answer, []);
  const retried = await dig(dns.port, '+noedns', 'pool.lab.example', 'A');
  t.is(retried.answer.length, 70);
  t.regex(retried.server, /\(TCP\)/);
});

test('a new desired state with the same networks and records rebuilds nothing; the same records in another order are logged at debug; one that changes the zones at info, once, without a second service key', async (t) => {
  const dns = await startDns(labState(machines));
  t.teardown(() => dns.stop());
  dns.lines.length = 0;
  dns.publish({ ...labState(machines), revision: 99 });
  t.deepEqual(dns.lines, []);
  const reordered = labState(machines);
  dns.publish({ ...reordered, revision: 100, dnsRecords: [...(reordered.dnsRecords ?? [])].reverse() });
  t.deepEqual(
    dns.lines.map(([level, msg]) => [level, msg]),
    [['debug', 'DNS zones rebuilt, unchanged']],
  );
  dns.lines.length = 0;
  dns.publish(labState([...machines, ['node3', '198.18.40.12']]));
  t.deepEqual(
    dns.lines.map(([level, msg]) => [level, msg]),
    [['info', 'DNS zones changed']],
  );
  t.false('service' in dns.lines[0]![2], 'the agent names the service (siteService) once');
});
