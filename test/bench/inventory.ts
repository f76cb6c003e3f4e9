/**
 * inventory: a site with 100 000 machines in PostgreSQL. 90 000 are seeded straight
 * into the tables with SQL (a machine row and one interface each, in mixed states and
 * tags — no events or audit, which a listing never reads); the last 10 000 come through
 * POST /v1/machines/import as CSV, timed. Filtered listings are then loaded by wrk.
 */
import { join } from 'node:path';
import pg from 'pg';
import type { BenchOptions, Cleanup, Row, SuiteResult } from './bench-kit.ts';
import { databaseUrl, macFor, startControlPlane } from './control-plane-process.ts';
import { ensurePeers } from './peers.ts';
import { wrk } from './wrk.ts';

export async function inventorySuite(options: BenchOptions, cleanup: Cleanup): Promise<SuiteResult> {
  ensurePeers(['wrk'], options.log);
  const total = options.inventory;
  const imported = Math.min(10_000, Math.floor(total / 10));
  const seeded = total - imported;
  const cp = await startControlPlane(cleanup, { logLevel: 'warn' });
  const site = await cp.api<{ site: { id: string } }>('POST', '/v1/sites', { name: 'bench' });
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const at = Date.now();
    await client.query(`set search_path to ${cp.schema}`);
    await client.query(
      `insert into machines (id, site_id, hostname, arch, boot_mode, tags, status)
       select gen_random_uuid(), $1, 'inv-' || g, 'x86_64', 'bios',
              jsonb_build_array(case when g % 2 = 0 then 'even' else 'odd' end, 'rack-' || (g % 40)),
              (array['new','ready','deployed','allocated','broken'])[1 + g % 5]
       from generate_series(1, $2::int) g`,
      [site.site.id, seeded],
    );
    await client.query(
      `insert into interfaces (id, machine_id, mac, name, pxe)
       select gen_random_uuid(), m.id,
              '02:1e:' || lpad(to_hex((n >> 24) & 255), 2, '0') || ':' || lpad(to_hex((n >> 16) & 255), 2, '0') || ':' || lpad(to_hex((n >> 8) & 255), 2, '0') || ':' || lpad(to_hex(n & 255), 2, '0'),
              'eth0', true
       from (select id, substring(hostname from 5)::int as n from machines where hostname like 'inv-%') m`,
    );
    await client.query('analyze');
    options.log(`inventory: ${seeded} machines seeded with SQL in ${((Date.now() - at) / 1000).toFixed(1)} s`);
  } finally {
    await client.end();
  }

  const csv = [
    'site,hostname,arch,bootMode,mac,tags',
    ...Array.from({ length: imported }, (_, i) => `bench,csv-${i + 1},x86_64,uefi,${macFor(i + 1, 0xc5)},imported ${i % 2 ? 'odd' : 'even'}`),
  ].join('\n');
  const importStart = Date.now();
  const response = await fetch(`${cp.url}/v1/machines/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${cp.token}`, 'content-type': 'text/csv' },
    body: csv,
  });
  const result = (await response.json()) as { created?: number; errors?: number };
  const importSeconds = (Date.now() - importStart) / 1000;
  options.log(
    `inventory: CSV import of ${imported} answered ${response.status} in ${importSeconds.toFixed(1)} s (created ${result.created}, errors ${result.errors})`,
  );

  const auth = { authorization: `Bearer ${cp.token}` };
  const seconds = Math.max(2, Math.round(options.seconds / 2));
  const listing = async (query: string, name: string, connections = 50) =>
    wrk(
      cp.url,
      `request = function()\n  return wrk.format("GET", "/v1/machines?${query}")\nend\n`,
      join(cp.dataDir, `${name}.lua`),
      seconds,
      auth,
      connections,
    );
  const plain = await listing('site=bench&limit=100', 'list-plain');
  const filtered = await listing('site=bench&status=ready&tag=odd&limit=100', 'list-filtered');
  // One client: the latency of the listing itself, without 50 requests queueing for two cores.
  const alone = await listing('site=bench&status=ready&tag=odd&limit=100', 'list-alone', 1);
  options.log(`inventory: list p99 ${plain.p99Ms} ms, filtered p99 ${filtered.p99Ms} ms, filtered p99 with one client ${alone.p99Ms} ms`);
  const rows: Row[] = [
    { metric: 'machines in the database', unit: '', better: 'none', sprout: total },
    { metric: `CSV import of ${imported} machines`, unit: 's', better: 'lower', sprout: response.status === 200 ? importSeconds : null },
    { metric: 'GET ?site&limit=100', unit: 'req/s', better: 'higher', sprout: plain.requestsPerSecond },
    { metric: '  p99', unit: 'ms', better: 'lower', sprout: plain.p99Ms },
    { metric: 'GET ?site&status&tag&limit=100', unit: 'req/s', better: 'higher', sprout: filtered.requestsPerSecond },
    { metric: '  p99', unit: 'ms', better: 'lower', sprout: filtered.p99Ms },
    { metric: '  errors', unit: '', better: 'none', sprout: plain.errors + filtered.errors },
    { metric: 'GET ?site&status&tag&limit=100, one client', unit: 'req/s', better: 'higher', sprout: alone.requestsPerSecond },
    { metric: '  p50', unit: 'ms', better: 'lower', sprout: alone.p50Ms },
    { metric: '  p99', unit: 'ms', better: 'lower', sprout: alone.p99Ms },
  ];
  return {
    suite: 'inventory',
    peers: [],
    rows,
    targets: [
      { what: `list p99 ≤ 50 ms at ${total} machines (filtered, 50 connections)`, measured: `${filtered.p99Ms} ms`, met: filtered.p99Ms <= 50 },
      { what: `list p99 ≤ 50 ms at ${total} machines (filtered, one client)`, measured: `${alone.p99Ms} ms`, met: alone.p99Ms <= 50 },
    ],
    notes: [
      `${seeded} machines seeded by SQL, ${imported} imported as CSV through the API (created ${result.created ?? '?'}, errors ${result.errors ?? '?'}); wrk -c 50 for ${seconds} s per listing`,
    ],
  };
}
