/**
 * ipam: 50 clients allocating the next free address of one network at once through
 * POST /v1/networks/{id}/allocations (the builtin IPAM on PostgreSQL), bounded in count
 * and time. Every answered address is checked for a second holder, on the wire and in
 * the network's allocation list afterwards.
 */
import { type BenchOptions, type Cleanup, type Row, type SuiteResult, percentile } from './bench-kit.ts';
import { startControlPlane } from './control-plane-process.ts';

export async function ipamSuite(options: BenchOptions, cleanup: Cleanup): Promise<SuiteResult> {
  const cp = await startControlPlane(cleanup, { logLevel: 'warn' });
  await cp.api('POST', '/v1/sites', { name: 'bench' });
  const network = await cp.api<{ id: string }>('POST', '/v1/networks', {
    site: 'bench',
    name: 'prov',
    cidr: '198.18.0.0/16',
    gateway: '198.18.0.1',
    pxe: true,
  });
  const clients = 50;
  const limit = options.quick ? 1000 : 10_000;
  const deadline = Date.now() + options.seconds * 1000;
  const answered = new Map<string, number>();
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < limit && Date.now() < deadline) {
        const n = ++next;
        const at = performance.now();
        const response = await fetch(`${cp.url}/v1/networks/${network.id}/allocations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${cp.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ hostname: `ipam-${n}.bench.example` }),
        });
        const body = (await response.json()) as { address?: string; code?: string };
        latencies.push(performance.now() - at);
        if (response.status === 201 && body.address) answered.set(body.address, (answered.get(body.address) ?? 0) + 1);
        else failures.set(`${response.status} ${body.code ?? ''}`.trim(), (failures.get(`${response.status} ${body.code ?? ''}`.trim()) ?? 0) + 1);
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const made = [...answered.values()].reduce((s, c) => s + c, 0);
  const wireDuplicates = [...answered.values()].filter((c) => c > 1).reduce((s, c) => s + c - 1, 0);
  const listed = await cp.api<{ items: { address: string }[] }>('GET', `/v1/networks/${network.id}/allocations`);
  const listedAddresses = listed.items.map((a) => a.address);
  const storedDuplicates = listedAddresses.length - new Set(listedAddresses).size;
  latencies.sort((a, b) => a - b);
  options.log(
    `ipam: ${made} allocations in ${seconds.toFixed(1)} s, failures ${JSON.stringify(Object.fromEntries(failures))}, listed ${listedAddresses.length}`,
  );
  const rows: Row[] = [
    { metric: 'allocations/s (50 clients)', unit: '/s', better: 'higher', sprout: made / seconds },
    { metric: '  p50', unit: 'ms', better: 'lower', sprout: percentile(latencies, 50) },
    { metric: '  p99', unit: 'ms', better: 'lower', sprout: percentile(latencies, 99) },
    { metric: 'allocations made', unit: '', better: 'none', sprout: made },
    { metric: 'failed requests', unit: '', better: 'none', sprout: [...failures.values()].reduce((s, c) => s + c, 0) },
    { metric: 'duplicate addresses answered (must be 0)', unit: '', better: 'none', sprout: wireDuplicates },
    { metric: 'duplicate addresses stored (must be 0)', unit: '', better: 'none', sprout: storedDuplicates },
  ];
  return {
    suite: 'ipam',
    peers: [],
    rows,
    targets: [
      {
        what: 'zero duplicate addresses',
        measured: `${wireDuplicates} answered, ${storedDuplicates} stored`,
        met: wireDuplicates === 0 && storedDuplicates === 0,
      },
    ],
    notes: [
      `at most ${limit} allocations or ${options.seconds} s; failures by status: ${JSON.stringify(Object.fromEntries(failures))}; ${listedAddresses.length} allocations listed afterwards`,
    ],
  };
}
