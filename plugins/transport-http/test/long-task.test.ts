/**
 * A task that runs longer than the lease keeps it: the agent extends the lease while it
 * works, so another agent of the same site never gets the item meanwhile.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { httpWorld } from './http-world.ts';

test('a task longer than ackWaitMs is not handed to a second agent of the site', async (t) => {
  const world = await httpWorld();
  t.teardown(() => world.cleanup());
  const control = await world.control();
  const siteId = randomUUID();
  const first = await world.agent(siteId, randomUUID());
  const second = await world.agent(siteId, randomUUID());
  const ran: string[] = [];
  let finished = false;
  await first.consumeWork(async () => {
    ran.push('first');
    await new Promise((resolve) => setTimeout(resolve, 3500)); // 3.5 leases of 1 s
    finished = true;
  });
  await world.publish!(control, { id: 'draft', siteId, kind: 'sync-site', payload: {} });
  for (let i = 0; i < 50 && ran.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(ran, ['first']);
  await second.consumeWork(async () => {
    ran.push('second');
  });
  for (let i = 0; i < 60 && !finished; i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, world.settleMs));
  t.true(finished);
  t.deepEqual(ran, ['first'], 'the item went to one agent only');
});
