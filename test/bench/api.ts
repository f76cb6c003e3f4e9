/**
 * api: the control plane's REST API on PostgreSQL — GET /v1/machines/{id}, a filtered
 * list of 100 and POST /v1/machines — loaded by wrk with 50 connections, against a
 * bare fastify 5 route doing one SELECT by primary key on the same table. The
 * single-machine GET and the baseline take turns in rounds.
 */
import { join } from 'node:path';
import { ensurePeers } from './peers.ts';
import type { BenchOptions, Cleanup, Row, SuiteResult } from './bench-kit.ts';
import { importMachines, startBareFastify, startControlPlane } from './control-plane-process.ts';
import { randomGetScript, wrk, type WrkFigures } from './wrk.ts';

export async function apiSuite(options: BenchOptions, cleanup: Cleanup): Promise<SuiteResult> {
  const missing = ensurePeers(['wrk'], options.log);
  if (missing.length > 0) throw new Error('wrk is needed for the api suite');
  const cp = await startControlPlane(cleanup);
  await cp.api('POST', '/v1/sites', { name: 'bench' });
  await cp.api('POST', '/v1/networks', { site: 'bench', name: 'prov', cidr: '198.18.0.0/16', gateway: '198.18.0.1', pxe: true });
  const seeded = options.quick ? 500 : 2000;
  const ids = await importMachines(cp, 'bench', seeded);
  const bare = await startBareFastify(cleanup, cp.schema);
  const auth = { authorization: `Bearer ${cp.token}` };
  const script = (name: string) => join(cp.dataDir, `${name}.lua`);

  const rounds = options.quick ? 1 : 2;
  const perRound = Math.max(2, Math.round(options.seconds / rounds));
  const sproutGet: WrkFigures[] = [];
  const bareGet: WrkFigures[] = [];
  const readsGet: WrkFigures[] = [];
  for (let r = 0; r < rounds; r++) {
    const runSprout = async () => sproutGet.push(await wrk(cp.url, randomGetScript('/v1/machines/', ids), script('get'), perRound, auth));
    const runBare = async () => bareGet.push(await wrk(bare.url, randomGetScript('/machines/', ids), script('bare'), perRound));
    const runReads = async () => readsGet.push(await wrk(bare.url, randomGetScript('/sprout-reads/machines/', ids), script('reads'), perRound));
    const order = [runSprout, runBare, runReads];
    for (const run of r % 2 === 0 ? order : [...order].reverse()) await run();
    options.log(
      `api round ${r + 1}: Sprout GET ${Math.round(sproutGet.at(-1)!.requestsPerSecond)} req/s, bare fastify ${Math.round(bareGet.at(-1)!.requestsPerSecond)}, bare with Sprout's two reads ${Math.round(readsGet.at(-1)!.requestsPerSecond)}`,
    );
  }
  const list = await wrk(
    cp.url,
    `request = function()\n  return wrk.format("GET", "/v1/machines?site=bench&tag=odd&status=new&limit=100")\nend\n`,
    script('list'),
    perRound,
    auth,
  );
  options.log(`api list: ${Math.round(list.requestsPerSecond)} req/s, p99 ${list.p99Ms} ms`);
  const post = await wrk(
    cp.url,
    [
      'counter = 0',
      'local threads = 0',
      'function setup(thread) threads = threads + 1; thread:set("tid", threads) end',
      'request = function()',
      '  counter = counter + 1',
      '  local body = string.format(\'{"site":"bench","hostname":"w%d-%d","arch":"x86_64","bootMode":"bios","interfaces":[{"mac":"02:aa:%02x:%02x:%02x:%02x"}]}\', tid, counter, tid, math.floor(counter / 65536) % 256, math.floor(counter / 256) % 256, counter % 256)',
      // wrk.format replaces wrk.headers (the -H authorization) when given headers: copy them in.
      '  local headers = {["content-type"] = "application/json"}',
      '  for k, v in pairs(wrk.headers) do headers[k] = v end',
      '  return wrk.format("POST", "/v1/machines", headers, body)',
      'end',
      '',
    ].join('\n'),
    script('post'),
    perRound,
    auth,
  );
  options.log(`api POST: ${Math.round(post.requestsPerSecond)} req/s, errors ${post.errors}`);

  const mean = (runs: WrkFigures[], f: (w: WrkFigures) => number) =>
    runs.reduce((s, w) => s + f(w) * w.requests, 0) /
    Math.max(
      1,
      runs.reduce((s, w) => s + w.requests, 0),
    );
  const total = (runs: WrkFigures[]) => runs.reduce((s, w) => s + w.errors, 0);
  const getRps = mean(sproutGet, (w) => w.requestsPerSecond);
  const bareRps = mean(bareGet, (w) => w.requestsPerSecond);
  const peer = 'bare fastify + SELECT';
  const diag = "bare fastify + Sprout's two reads";
  const rows: Row[] = [
    {
      metric: 'GET /v1/machines/{id}',
      unit: 'req/s',
      better: 'higher',
      sprout: getRps,
      peers: { [peer]: bareRps, [diag]: mean(readsGet, (w) => w.requestsPerSecond) },
    },
    {
      metric: '  p50',
      unit: 'ms',
      better: 'lower',
      sprout: mean(sproutGet, (w) => w.p50Ms),
      peers: { [peer]: mean(bareGet, (w) => w.p50Ms), [diag]: mean(readsGet, (w) => w.p50Ms) },
    },
    {
      metric: '  p99',
      unit: 'ms',
      better: 'lower',
      sprout: Math.max(...sproutGet.map((w) => w.p99Ms)),
      peers: {
        [peer]: Math.max(...bareGet.map((w) => w.p99Ms)),
        [diag]: Math.max(...readsGet.map((w) => w.p99Ms)),
      },
    },
    {
      metric: '  errors',
      unit: '',
      better: 'none',
      sprout: total(sproutGet),
      peers: { [peer]: total(bareGet), [diag]: total(readsGet) },
    },
    { metric: 'GET /v1/machines?site&tag&status&limit=100', unit: 'req/s', better: 'higher', sprout: list.requestsPerSecond },
    { metric: '  p50', unit: 'ms', better: 'lower', sprout: list.p50Ms },
    { metric: '  p99', unit: 'ms', better: 'lower', sprout: list.p99Ms },
    { metric: '  errors', unit: '', better: 'none', sprout: list.errors },
    { metric: 'POST /v1/machines', unit: 'req/s', better: 'higher', sprout: post.requestsPerSecond },
    { metric: '  p50', unit: 'ms', better: 'lower', sprout: post.p50Ms },
    { metric: '  p99', unit: 'ms', better: 'lower', sprout: post.p99Ms },
    { metric: '  errors', unit: '', better: 'none', sprout: post.errors },
  ];
  return {
    suite: 'api',
    peers: [peer, diag],
    rows,
    targets: [
      {
        what: 'single-machine GET ≥ 0.8× bare fastify + one SELECT (with authentication and authorization)',
        measured: `${(getRps / bareRps).toFixed(2)}×`,
        met: getRps >= 0.8 * bareRps,
      },
      {
        what: 'POST /v1/machines ≥ 1 000 req/s (50 connections; each create audited in the same statement)',
        measured: `${Math.round(post.requestsPerSecond)} req/s`,
        met: post.requestsPerSecond >= 1000 && post.errors === 0,
      },
    ],
    notes: [
      `"${diag}" is a diagnosis, not a peer: the bare route making the two reads a Sprout GET makes (the machine with its site, interfaces, tests and the site's networks; the IPAM's allocations of the machine), as prepared statements, with no token check, schemas or log line — what the reads alone cost on this machine; Sprout ÷ it is what the framework around them costs`,
      `wrk -t 2 -c 50, ${rounds} round(s) of ${perRound} s for the GET comparison, ${perRound} s for the list and POST; ${seeded} machines in the database; the control plane logs at info to a pipe, as sprout server does; the admin bearer token is checked on every request`,
    ],
  };
}
