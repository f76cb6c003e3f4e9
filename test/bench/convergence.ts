/**
 * convergence: how soon an online agent hears of a change at its site. The bench plays a
 * registered agent long-polling `GET /v1/agents/{id}/desired-state?after=N` (what the
 * real agent does) while it changes the site one change at a time (a machine's tags, so
 * the revision moves), and measures from the change's answer to the long poll's answer
 * carrying that revision or a later one. Then a burst of changes sent ten at a time,
 * to see the agent coalesce them. Bounded in count and time; PostgreSQL.
 */
import { type BenchOptions, type Cleanup, type Row, type SuiteResult, percentile } from './bench-kit.ts';
import { startControlPlane } from './control-plane-process.ts';

export async function convergenceSuite(options: BenchOptions, cleanup: Cleanup): Promise<SuiteResult> {
  const cp = await startControlPlane(cleanup, { logLevel: 'warn' });
  const site = await cp.api('POST', '/v1/sites', { name: 'conv' });
  const agent = await fetch(`${cp.url}/v1/agents/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ joinToken: site.joinToken.token, hostname: 'bench-agent', version: '0.1.0', capabilities: [] }),
  }).then((r) => r.json() as Promise<{ agentId: string; credential: string }>);
  await cp.api('POST', '/v1/networks', { site: 'conv', name: 'prov', cidr: '198.18.0.0/24', gateway: '198.18.0.1', pxe: true });
  const machine = await cp.api('POST', '/v1/machines', {
    site: 'conv',
    hostname: 'conv-1',
    arch: 'x86_64',
    bootMode: 'bios',
    interfaces: [{ mac: '52:54:00:c0:00:01' }],
  });

  let held = -1;
  let fetches = 0;
  const poll = async (wait: number): Promise<number> => {
    const response = await fetch(`${cp.url}/v1/agents/${agent.agentId}/desired-state?after=${held}&wait=${wait}`, {
      headers: { authorization: `Bearer ${agent.credential}` },
    });
    fetches++;
    if (response.status === 200) held = ((await response.json()) as { revision: number }).revision;
    else await response.arrayBuffer();
    return held;
  };
  await poll(0);

  const changes = options.quick ? 30 : 200;
  const deadline = Date.now() + options.seconds * 1000 * 3;
  const latencies: number[] = [];
  let late = 0;
  for (let i = 0; i < changes && Date.now() < deadline; i++) {
    // The long poll is already waiting when the change commits, as an online agent's is.
    const waiting = poll(25);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await cp.api('PATCH', `/v1/machines/${machine.id}`, { tags: [`c-${i}`] });
    const changed = performance.now();
    const revision = (await cp.api('GET', '/v1/sites/conv')).desiredRevision as number;
    while ((await waiting) < revision && held < revision) {
      await poll(25);
    }
    const ms = performance.now() - changed;
    latencies.push(ms);
    if (ms > 1000) late++;
  }

  // A burst: 100 changes, ten at a time, while the agent keeps polling; it must end at the last.
  const burstStart = performance.now();
  const fetchesBefore = fetches;
  let polling = true;
  const follower = (async () => {
    while (polling) await poll(2);
  })();
  for (let round = 0; round < 10; round++) {
    await Promise.all(Array.from({ length: 10 }, (_, i) => cp.api('PATCH', `/v1/machines/${machine.id}`, { tags: [`burst-${round}-${i}`] })));
  }
  const final = (await cp.api('GET', '/v1/sites/conv')).desiredRevision as number;
  const burstDeadline = Date.now() + 30_000;
  while (held < final && Date.now() < burstDeadline) await new Promise((resolve) => setTimeout(resolve, 10));
  polling = false;
  await follower;
  const burstMs = performance.now() - burstStart;

  latencies.sort((a, b) => a - b);
  const rows: Row[] = [
    { metric: 'change → agent has it, p50', unit: 'ms', better: 'lower', sprout: percentile(latencies, 50) },
    { metric: 'change → agent has it, p99', unit: 'ms', better: 'lower', sprout: percentile(latencies, 99) },
    { metric: 'changes measured', unit: '', better: 'none', sprout: latencies.length },
    { metric: 'burst of 100: documents fetched', unit: '', better: 'none', sprout: fetches - fetchesBefore },
    { metric: 'burst of 100: until the agent holds the last', unit: 'ms', better: 'lower', sprout: burstMs },
  ];
  const p99 = percentile(latencies, 99);
  return {
    suite: 'convergence',
    peers: [],
    rows,
    targets: [
      {
        what: 'an online agent has a change within 1 s (p99)',
        measured: `p99 ${p99?.toFixed(1)} ms, ${late} of ${latencies.length} over 1 s`,
        met: p99 !== null && p99 <= 1000,
      },
      { what: 'after a burst the agent holds the final revision', measured: `holds ${held} of ${final}`, met: held === final },
    ],
    notes: ['One control plane on PostgreSQL; the long poll is woken in process at commit (other control planes: NOTIFY). The document is built per fetch.'],
  };
}
