/**
 * PostgreSQL stops for 20 s under API load. Every request in that time is answered —
 * 503 problem+json, readiness 503 — instead of hanging or crashing the process; the
 * control plane recovers by itself when the database is back — requests, dispatch to
 * the agent, and a watchdog that came due meanwhile (fired once); and no change is half
 * written: every site that exists has its audit record and every audit record its site.
 * The database is this test's own, started and stopped by its PID.
 */
import test from 'ava';
import { ownPostgres } from '@sprout/test-support/own-services.ts';
import { faultLab, settled } from './fault-lab.ts';
import { invariantViolations } from './invariants.ts';

const outageMs = 20_000;

test('PostgreSQL down for 20 s under load: 503 problem+json, not_ready, no hang, no crash, recovery on its own, nothing half written', async (t) => {
  t.timeout(115_000);
  const pg = await ownPostgres();
  t.teardown(() => pg.destroy());
  const lab = await faultLab(t, pg.url, { subnet: '198.18.64' });
  const server = lab.servers[0]!;
  const token = lab.token;
  const base = `http://127.0.0.1:${server.port}`;
  // A machine that will never boot: its watchdog comes due while the database is away.
  await lab.api('POST', '/v1/machines', { site: 'lab', hostname: 'outage-1', arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac: '52:54:00:64:00:01' }] });
  const commission = await lab.api('POST', '/v1/machines/outage-1/commission', { hwtest: false });

  type Outcome = { at: number; what: string; status: number; ms: number; code?: string; type?: string; name?: string };
  const outcomes: Outcome[] = [];
  const call = async (what: string, path: string, body?: unknown, name?: string) => {
    const started = Date.now();
    let status = 0;
    let code: string | undefined;
    let type: string | undefined;
    try {
      const res = await fetch(base + path, {
        method: body ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(15_000),
      });
      status = res.status;
      type = res.headers.get('content-type') ?? undefined;
      const text = await res.text();
      if (status >= 400) code = JSON.parse(text).code;
    } catch (err) {
      code = (err as Error).name; // a hang ends as TimeoutError
    }
    outcomes.push({ at: started, what, status, ms: Date.now() - started, code, type, name });
  };

  let stopAt = 0;
  let startAt = 0;
  let running = true;
  let n = 0;
  const worker = async (w: number) => {
    while (running) {
      const name = `load-${w}-${n++}`;
      await call('create', '/v1/sites', { name }, name);
      await call('read', '/v1/sites?limit=5');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const prober = async () => {
    while (running) {
      await call('readyz', '/readyz');
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const load = [worker(1), worker(2), worker(3), prober()];
  await new Promise((r) => setTimeout(r, 3_000));
  stopAt = Date.now();
  await pg.stop('SIGINT'); // fast shutdown: connections are cut
  await new Promise((r) => setTimeout(r, outageMs));
  const restartAt = Date.now();
  await pg.start();
  startAt = Date.now();
  // Back by itself: readiness, then writes.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && !outcomes.some((o) => o.at > startAt && o.what === 'create' && o.status === 201))
    await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 2_000));
  running = false;
  await Promise.all(load);

  t.is(server.log().includes('sprout server is listening'), true);
  t.truthy(process.kill(server.pid, 0), 'the control plane process is still alive');
  const during = outcomes.filter((o) => o.at > stopAt + 1_000 && o.at + o.ms < restartAt);
  const wrong = during.filter((o) =>
    o.what === 'readyz' ? o.status !== 503 : o.status !== 503 || o.code !== 'SPROUT_ERR_UNAVAILABLE' || !/^application\/problem\+json/.test(o.type ?? ''),
  );
  const slow = outcomes.filter((o) => o.ms > 12_000 || o.code === 'TimeoutError');
  const firstBack = outcomes.find((o) => o.at > startAt && o.what === 'create' && o.status === 201)?.at ?? Infinity;
  const recovered = outcomes.filter((o) => o.at > firstBack + 500);
  t.log(
    `${outcomes.length} requests: ${during.length} while PostgreSQL was down (${during.filter((o) => o.status === 503).length} answered 503), ${recovered.filter((o) => o.status < 300).length}/${recovered.length} ok after recovery; slowest ${Math.max(...outcomes.map((o) => o.ms))} ms`,
  );
  t.true(during.length > 20, `requests were made during the outage (${during.length})`);
  t.deepEqual(wrong.slice(0, 5), [], `every request during the outage answered 503 problem+json (${wrong.length} did not)`);
  t.deepEqual(slow.slice(0, 5), [], 'no request hung');
  t.true(
    recovered.length > 5 && recovered.every((o) => o.status < 300),
    `after recovery: ${JSON.stringify(recovered.filter((o) => o.status >= 300).slice(0, 3))}`,
  );

  // No partial writes: a 201 site exists; every site has its audit record and every success record its site.
  const created = outcomes.filter((o) => o.what === 'create' && o.status === 201).map((o) => o.name!);
  const listed = await fetch(`${base}/v1/sites`, { headers: { authorization: `Bearer ${token}` } }).then(
    (r) => r.json() as Promise<{ items: { name: string }[] }>,
  );
  const names = new Set(listed.items.map((s) => s.name));
  t.deepEqual(
    created.filter((name) => !names.has(name)),
    [],
    'every site answered 201 exists',
  );
  // The background work recovered too: new site work is dispatched and done, and the watchdog that came due in the outage fired, once.
  const [sync] = await settled(lab, [(await lab.api('POST', '/v1/sites/lab/sync')).id]);
  t.is(sync.state, 'succeeded');
  const [overdue] = await settled(lab, [commission.id], 30_000);
  t.is(overdue.state, 'timed_out');
  const machine = await lab.api('GET', '/v1/machines/outage-1');
  t.is(machine.status, 'failed_commissioning');
  t.is(machine.statusReason?.code, 'watchdog_timeout');
  t.is((await lab.api('GET', `/v1/machines/outage-1/events`)).items.filter((e: any) => e.to === 'failed_commissioning').length, 1, 'one watchdog failure');
  t.deepEqual(await invariantViolations(pg.url), []);
});
