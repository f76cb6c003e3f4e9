/**
 * An agent runs the items of one poll side by side, but one machine's in order: an item
 * does not wait for another machine's, and never starts before its machine's earlier one ended.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { WorkItem } from '@sprout/kernel';
import { httpWorld } from './http-world.ts';

test('items of different machines run side by side; one machine’s run in order', async (t) => {
  const world = await httpWorld();
  t.teardown(() => world.cleanup());
  const control = await world.control();
  const siteId = randomUUID();
  const agent = await world.agent(siteId, randomUUID());
  const item = (n: number, machine: string): WorkItem => ({
    id: `wi-${n}-${randomUUID()}`,
    siteId,
    kind: 'side-by-side',
    workflowId: null,
    stepId: null,
    payload: { n, machine },
  });
  // Published before the agent polls, so one poll leases all three.
  for (const work of [item(1, 'm1'), item(2, 'm2'), item(3, 'm1')]) await world.publish!(control, work);
  const events: string[] = [];
  let secondStarted!: () => void;
  const second = new Promise<void>((resolve) => (secondStarted = resolve));
  await agent.consumeWork(async (work) => {
    const n = Number(work.payload.n);
    events.push(`start ${n}`);
    if (n === 2) secondStarted();
    // The first item ends only once the second (another machine's) has started: run one at a time, they would never.
    if (n === 1) await second;
    events.push(`end ${n}`);
  });
  for (let i = 0; i < 100 && events.length < 6; i++) await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(events.slice(0, 2), ['start 1', 'start 2']);
  t.true(events.indexOf('start 3') > events.indexOf('end 1'), `m1’s second item waited for its first: ${events.join(', ')}`);
  t.is(events.length, 6);
});
