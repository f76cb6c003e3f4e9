/**
 * The workflow engine's control-step paths, as an operator sees them in the workflow view
 * and on the machine: a step that keeps failing is retried up to its max attempts and then
 * fails the workflow and the machine with the step's error; a step that hangs fails as timed
 * out; a cancel lands at the next step boundary; step hooks run after the step committed.
 * The engine is the kernel's own, with its DHCP capability replaced by one the test controls.
 */
import test from 'ava';
import type { Knex } from 'knex';
import { startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { createMachine, siteWithNetwork, waitForWorkflow, finishSiteStep } from '@sprout/test-support/control-plane.ts';
import { until } from '@sprout/test-support/until.ts';
import { WorkflowEngine, type EngineDeps } from '../src/domain/workflows/engine.ts';
import type { DhcpProvider } from '../src/capabilities/dhcp.ts';
import { SproutError } from '../src/errors/index.ts';

type Reserve = DhcpProvider['reserve'];

let h: Harness;
const octet = 60;

test.before(async () => {
  h = await startHarness('pglite');
  await siteWithNetwork(h, 'eng', octet);
  // The kernel's own engine would advance the same workflows: the tests' engines do it instead.
  await h.kernel.services.engine.stop();
});
test.after.always(() => h?.stop());

/** The kernel's engine wiring, with `reserve-dhcp`'s capability answering as `reserve` does. */
function engineWith(reserve: Reserve): WorkflowEngine {
  const deps = (h.kernel.services.engine as unknown as { deps: EngineDeps }).deps;
  const dhcp = { reserve, unreserve: async () => undefined } as unknown as DhcpProvider;
  return new WorkflowEngine({ ...deps, stepContext: { ...deps.stepContext, dhcp: async () => dhcp } });
}

/** Commissions a new machine and plays its agent through check-bmc; the engine then runs the control steps. */
async function commission(engine: WorkflowEngine, hostname: string, beforeControlSteps?: (db: Knex, workflowId: string) => Promise<void>) {
  const machine = await createMachine(h, 'eng', hostname);
  const started = await h.request({ method: 'POST', url: `/v1/machines/${hostname}/commission`, body: { hwtest: false } });
  if (started.status !== 202) throw new Error(JSON.stringify(started.body));
  const id: string = started.body.id;
  await engine.advance(id);
  await beforeControlSteps?.(h.kernel.store.db, id);
  const checkBmc = await h.kernel.store.db('workflow_steps').where({ workflow_id: id, name: 'check-bmc' }).first();
  await engine.siteStepFinished(checkBmc.id, { ok: true });
  return { machine, id };
}

const step = (wf: any, name: string) => wf.steps.find((s: any) => s.name === name);
const ended = (wf: any) => ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(wf.state);

test.serial('a control step that keeps failing is retried up to its max attempts, then fails the workflow and the machine with its error', async (t) => {
  let calls = 0;
  const engine = engineWith(async () => {
    calls++;
    throw new Error('dhcp server unreachable');
  });
  t.teardown(() => engine.stop());
  const { machine, id } = await commission(engine, 'retry-1');
  const wf = await waitForWorkflow(h, id, ended);

  t.is(wf.state, 'failed');
  t.is(wf.error, 'reserve-dhcp: dhcp server unreachable');
  t.like(step(wf, 'reserve-dhcp'), { state: 'failed', attempt: 3, maxAttempts: 3, error: 'dhcp server unreachable' });
  t.deepEqual(
    step(wf, 'reserve-dhcp').logTail.filter((l: string) => l.startsWith('reserve-dhcp attempt')),
    [1, 2, 3].map((n) => `reserve-dhcp attempt ${n}/3 failed: dhcp server unreachable`),
  );
  t.is(calls, 3);
  t.is(step(wf, 'allocate-ip').state, 'succeeded');
  t.true(
    wf.steps.slice(3).every((s: any) => s.state === 'pending'),
    'nothing after the failed step ran',
  );

  const seen = (await h.request({ url: `/v1/machines/${machine.id}` })).body;
  t.is(seen.status, 'failed_commissioning');
  t.like(seen.statusReason, { code: 'step_failed', step: 'reserve-dhcp', message: 'commission failed in step reserve-dhcp: dhcp server unreachable' });
  t.true(seen.statusReason.logTail.includes('reserve-dhcp attempt 3/3 failed: dhcp server unreachable'));
});

test.serial('a control step that fails once and then succeeds shows its second attempt and the workflow goes on', async (t) => {
  let calls = 0;
  const engine = engineWith(async () => {
    if (++calls === 1) throw new Error('dhcp server busy');
  });
  t.teardown(() => engine.stop());
  const { id } = await commission(engine, 'retry-2');
  const wf = await waitForWorkflow(h, id, (w) => step(w, 'power-on').state === 'dispatched' || ended(w));

  t.is(wf.state, 'dispatched');
  t.like(step(wf, 'reserve-dhcp'), { state: 'succeeded', attempt: 2, error: null });
  t.true(step(wf, 'reserve-dhcp').logTail.includes('reserve-dhcp attempt 1/3 failed: dhcp server busy'));
  t.like(step(wf, 'write-dns'), { state: 'succeeded', attempt: 1 });
});

test.serial('a control step refused as bad input (a 4xx error) is not retried', async (t) => {
  let calls = 0;
  const engine = engineWith(async () => {
    calls++;
    throw new SproutError('SPROUT_ERR_CONFLICT', 'address 198.18.60.2 is reserved for another MAC');
  });
  t.teardown(() => engine.stop());
  const { id } = await commission(engine, 'retry-3');
  const wf = await waitForWorkflow(h, id, ended);
  t.is(wf.state, 'failed');
  t.like(step(wf, 'reserve-dhcp'), { state: 'failed', attempt: 1, error: 'address 198.18.60.2 is reserved for another MAC' });
  t.is(calls, 1);
});

test.serial('a control step that outlives its timeout fails as timed out, each attempt', async (t) => {
  // The timeout is a real timer (the engine does not read its clock for it): the smallest one.
  const engine = engineWith(() => new Promise<void>(() => undefined));
  t.teardown(() => engine.stop());
  const { machine, id } = await commission(engine, 'timeout-1', (db, workflowId) =>
    db('workflow_steps').where({ workflow_id: workflowId, name: 'reserve-dhcp' }).update({ timeout_ms: 50, max_attempts: 2 }),
  );
  const wf = await waitForWorkflow(h, id, ended);

  t.is(wf.state, 'failed');
  t.is(wf.error, 'reserve-dhcp: step reserve-dhcp timed out after 50 ms');
  t.like(step(wf, 'reserve-dhcp'), { state: 'failed', attempt: 2, maxAttempts: 2, error: 'step reserve-dhcp timed out after 50 ms' });
  t.true(step(wf, 'reserve-dhcp').logTail.includes('reserve-dhcp attempt 1/2 failed: step reserve-dhcp timed out after 50 ms'));
  const seen = (await h.request({ url: `/v1/machines/${machine.id}` })).body;
  t.is(seen.status, 'failed_commissioning');
  t.is(seen.statusReason.message, 'commission failed in step reserve-dhcp: step reserve-dhcp timed out after 50 ms');
});

test.serial('a workflow cancelled while a control step runs stops at the next step boundary', async (t) => {
  let entered!: () => void;
  const inStep = new Promise<void>((resolve) => (entered = resolve));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const engine = engineWith(async () => {
    entered();
    await gate;
  });
  t.teardown(() => {
    release();
    return engine.stop();
  });
  const { machine, id } = await commission(engine, 'cancel-1');
  await inStep;
  const db = h.kernel.store.db;
  // PGlite has one connection: the cancel waits behind the running step's transaction and
  // gets it before the engine's next one, so the boundary it lands at is the next one.
  const pool = (db.client as { pool: { numPendingAcquires(): number } }).pool;
  const cancelling = db.transaction((trx) => h.kernel.services.workflows.requestCancel(trx, id, 'operator-1'));
  await until('the cancel waits for the running step', async () => pool.numPendingAcquires() > 0);
  release();
  await cancelling;
  await engine.advance(id, { wait: true });
  const wf = await waitForWorkflow(h, id, ended);

  t.is(wf.state, 'cancelled');
  t.is(step(wf, 'reserve-dhcp').state, 'succeeded', 'the step that was running was not cut short');
  t.deepEqual(
    wf.steps.slice(3).map((s: any) => s.state),
    wf.steps.slice(3).map(() => 'cancelled'),
  );
  const seen = (await h.request({ url: `/v1/machines/${machine.id}` })).body;
  t.is(seen.status, 'new');
  t.like(seen.statusReason, { code: 'cancelled', step: 'write-dns', message: 'commission cancelled by operator-1 before step write-dns' });
});

test('postgres: step hooks run after the step committed (a hook reading the database sees the step finished)', async (t) => {
  const pg = await startHarness('postgres');
  t.teardown(() => pg.stop());
  await siteWithNetwork(pg, 'hooks', 61);
  const seen: { step: string; event: string; stored: string }[] = [];
  const read = (event: string) => async (e: { workflowId: string; step: string; state: string }) => {
    // Another connection: what anyone else (an API request, a plugin's query) would read.
    const row = await pg.kernel.store.db('workflow_steps').where({ workflow_id: e.workflowId, name: e.step }).first('state');
    seen.push({ step: e.step, event: `${event}:${e.state}`, stored: row.state });
  };
  pg.kernel.hooks.workflowStepStarted.tapPromise('test-reader', read('started'));
  pg.kernel.hooks.workflowStepFinished.tapPromise('test-reader', read('finished'));
  await createMachine(pg, 'hooks', 'hooked-1');
  const started = await pg.request({ method: 'POST', url: '/v1/machines/hooked-1/commission', body: { hwtest: false } });
  t.is(started.status, 202);
  t.is(await finishSiteStep(pg, started.body.id), 'check-bmc');
  await waitForWorkflow(pg, started.body.id, (w) => step(w, 'power-on').state === 'dispatched');
  await until('the hooks ran', async () => seen.some((s) => s.step === 'publish-boot-intent' && s.event === 'finished:succeeded'));

  const finished = (name: string) => seen.find((s) => s.step === name && s.event === 'finished:succeeded');
  t.is(finished('check-bmc')?.stored, 'succeeded');
  for (const name of ['allocate-ip', 'reserve-dhcp', 'write-dns', 'publish-boot-intent']) t.is(finished(name)?.stored, 'succeeded', name);
  t.is(seen.find((s) => s.step === 'check-bmc' && s.event === 'started:dispatched')?.stored, 'dispatched', 'a dispatched step is seen dispatched');
});
