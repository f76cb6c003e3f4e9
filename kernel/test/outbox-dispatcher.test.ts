/**
 * The outbox dispatcher hands each undispatched row to the transport once; a transport that
 * fails leaves the row pending with its error, and the next drain delivers it. Work the
 * transport gives up on (the HTTP transport after `maxDeliver` deliveries) fails its step
 * with the reason, as the operator reads it in the workflow.
 */
import test from 'ava';
import pino from 'pino';
import { startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { createMachine, siteWithNetwork, waitForWorkflow } from '@sprout/test-support/control-plane.ts';
import { OutboxDispatcher } from '../src/domain/workflows/outbox-dispatcher.ts';
import { transportCapability, type DeliveryInfo, type TransportProvider, type WorkItem } from '../src/capabilities/transport.ts';

/** What the HTTP transport's `GET /v1/agents/{id}/work` route calls on its provider (the harness's transport). */
interface LongPoll {
  pollWork(siteId: string, waitMs: number): Promise<{ item: WorkItem; delivery: DeliveryInfo }[]>;
}

let h: Harness;
let siteId: string;

test.before(async () => {
  // A lease of 100 ms and one delivery: work an agent does not acknowledge is given up at once.
  h = await startHarness('pglite', { yaml: 'plugins:\n  transport-http: { ackWaitMs: 100, maxDeliver: 1 }\n' });
  siteId = (await siteWithNetwork(h, 'out', 70)).site.id;
});
test.after.always(() => h?.stop());

/** A transport that records what it is handed. */
function recordingTransport() {
  const published: WorkItem[] = [];
  const transport = {
    async publishWork(item: WorkItem) {
      published.push(item);
    },
  } as unknown as TransportProvider;
  const dispatcher = new OutboxDispatcher({
    db: h.kernel.store.db,
    transport: async () => transport,
    logger: pino({ level: 'silent' }),
    intervalMs: 3_600_000,
  });
  return { published, dispatcher };
}

async function outboxRows(n: number): Promise<number[]> {
  const db = h.kernel.store.db;
  // Rows of earlier tests are already dispatched; these are the only pending ones.
  const rows = await db('outbox')
    .insert(Array.from({ length: n }, (_, i) => ({ site_id: siteId, kind: 'test-work', payload: JSON.stringify({ n: i }) })))
    .returning('id');
  return rows.map((r: any) => Number(r.id ?? r));
}

const row = (id: number) => h.kernel.store.db('outbox').where({ id }).first();

test.serial('each outbox row is handed to the transport once, however often the dispatcher drains', async (t) => {
  await h.kernel.store.db('outbox').whereNull('dispatched_at').update({ dispatched_at: h.kernel.store.db.fn.now() });
  const { published, dispatcher } = recordingTransport();
  const ids = await outboxRows(2);
  t.is(await dispatcher.drain(), 2);
  t.is(await dispatcher.drain(), 0);
  t.deepEqual(
    published.map((i) => i.id),
    ids.map((id) => `wi-${id}`),
  );
  t.deepEqual(
    published.map((i) => i.payload),
    [{ n: 0 }, { n: 1 }],
  );
  for (const id of ids) t.like(await row(id), { attempts: 1, last_error: null }, `row ${id}`);
  t.truthy((await row(ids[0])).dispatched_at);
});

test.serial('a transport failure leaves the row pending with its error; the next drain delivers it and what followed', async (t) => {
  const published: WorkItem[] = [];
  const more = await outboxRows(3);
  let calls = 0;
  const flaky = {
    async publishWork(item: WorkItem) {
      if (++calls === 2) throw new Error('broker unavailable');
      published.push(item);
    },
  } as unknown as TransportProvider;
  const d2 = new OutboxDispatcher({ db: h.kernel.store.db, transport: async () => flaky, logger: pino({ level: 'silent' }), intervalMs: 3_600_000 });
  // The first goes out, the second fails: the third waits behind it (order holds).
  t.is(await d2.drain(), 1);
  t.deepEqual(
    published.map((i) => i.id),
    [`wi-${more[0]}`],
  );
  t.truthy((await row(more[0])).dispatched_at);
  t.like(await row(more[1]), { dispatched_at: null, attempts: 1, last_error: 'broker unavailable' });
  t.like(await row(more[2]), { dispatched_at: null, attempts: 0 });

  t.is(await d2.drain(), 2);
  t.deepEqual(
    published.map((i) => i.id),
    more.map((id) => `wi-${id}`),
    'each delivered once, in order',
  );
  t.like(await row(more[1]), { attempts: 2, last_error: null });
  t.truthy((await row(more[1])).dispatched_at);
});

test.serial('a transport that leases from the outbox is handed nothing: its agents lease the rows themselves', async (t) => {
  const published: WorkItem[] = [];
  const leasing = {
    leasesFromOutbox: true,
    async publishWork(item: WorkItem) {
      published.push(item);
    },
  } as unknown as TransportProvider;
  const dispatcher = new OutboxDispatcher({ db: h.kernel.store.db, transport: async () => leasing, logger: pino({ level: 'silent' }), intervalMs: 3_600_000 });
  const ids = await outboxRows(1);
  t.is(await dispatcher.drain(), 0);
  t.deepEqual(published, []);
  t.like(await row(ids[0]), { dispatched_at: null, attempts: 0 });
  const leased = await h.kernel.services.workQueue.lease(siteId, { ackWaitMs: 60_000, maxDeliver: 3, limit: 10 });
  t.deepEqual(
    leased.map(({ item }) => item.id),
    [`wi-${ids[0]}`],
  );
  t.truthy((await row(ids[0])).dispatched_at, 'the first lease marks the row dispatched');
  await h.kernel.services.workQueue.settle(siteId, [`wi-${ids[0]}`], 'ack', 60_000);
  t.truthy((await row(ids[0])).acked_at);
});

test.serial('work the transport gives up on fails its step with the reason', async (t) => {
  await createMachine(h, 'out', 'given-up-1');
  const started = await h.request({ method: 'POST', url: '/v1/machines/given-up-1/commission', body: { hwtest: false } });
  t.is(started.status, 202);
  const id: string = started.body.id;
  await waitForWorkflow(h, id, (w) => w.steps[0].state === 'dispatched');
  await h.kernel.services.dispatcher.drain();
  // The HTTP transport's control-plane side, as its long-poll route uses it.
  const transport = (await h.kernel.capability(transportCapability)) as unknown as LongPoll;
  // The agent takes the work and never acknowledges it: its one delivery runs out.
  const leased = await transport.pollWork(siteId, 0);
  t.is(leased.length, 1);
  const workItemId = leased[0].item.id;
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.deepEqual(await transport.pollWork(siteId, 0), [], 'a given-up item is not delivered again');
  const wf = await waitForWorkflow(h, id, (w) => w.state === 'failed');
  const checkBmc = wf.steps.find((s: any) => s.name === 'check-bmc');
  t.is(checkBmc.state, 'failed');
  t.is(checkBmc.error, `the agent at the site never completed work item ${workItemId}: not acknowledged after 1 deliveries`);
  const machine = (await h.request({ url: '/v1/machines/given-up-1' })).body;
  t.is(machine.status, 'failed_commissioning');
  t.regex(machine.statusReason.message, /never completed work item/);
});
