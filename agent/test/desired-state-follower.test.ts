/**
 * The follower takes documents from the transport's watch when there is one (logged
 * `via: jetstream`), ignores any revision not above the one served, and — once the watch
 * has been silent for longer than the control plane's republish period — follows the
 * control plane's HTTP long poll instead until the watch delivers again. The control
 * plane here is a loopback HTTP server answering the desired-state long poll.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { SiteDesiredStateDocument } from '@sprout/kernel';
import { DesiredStateStore } from '../src/desired-state-store.ts';
import { DesiredStateFollower } from '../src/desired-state-follower.ts';

const siteId = randomUUID();
const doc = (revision: number): SiteDesiredStateDocument => ({
  revision,
  site: { id: siteId, name: 'lab' },
  networks: [],
  reservations: [],
  bootIntents: [],
  dnsRecords: [],
});

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A control plane's desired-state long poll, holding each request until its revision is above `after` or `wait` ends. */
async function controlPlane(t: { teardown(fn: () => unknown): void }) {
  const state = { revision: 0, requests: 0 };
  const waiting = new Set<() => void>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.requests++;
    const url = new URL(req.url!, 'http://127.0.0.1');
    const after = Number(url.searchParams.get('after'));
    const answer = () => {
      waiting.delete(answer);
      clearTimeout(timer);
      if (res.writableEnded) return;
      if (state.revision > after) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc(state.revision)));
      else res.writeHead(204).end();
    };
    const timer = setTimeout(answer, Number(url.searchParams.get('wait')) * 1000);
    if (state.revision > after) answer();
    else waiting.add(answer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  t.teardown(() => server.closeAllConnections());
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    publish(revision: number) {
      state.revision = revision;
      for (const answer of [...waiting]) answer();
    },
  };
}

function follower(t: { teardown(fn: () => unknown): void }, controlPlaneUrl: string, watchSilenceMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-follower-'));
  const logs: { level: string; fields: Record<string, unknown>; message?: string }[] = [];
  const at = (level: string) => (fields: object, message?: string) => void logs.push({ level, fields: fields as Record<string, unknown>, message });
  const store = new DesiredStateStore(dir);
  const made = new DesiredStateFollower({
    controlPlaneUrl,
    agentId: randomUUID(),
    credential: 'c',
    store,
    report: () => {},
    onOutcome: () => {},
    logger: { info: at('info'), warn: at('warn'), error: at('error') },
    waitSeconds: 2,
    watchSilenceMs,
  });
  t.teardown(async () => {
    await made.stop();
    store.flush();
    rmSync(dir, { recursive: true, force: true });
  });
  const applied = () => logs.filter((l) => l.message === 'applied desired state').map((l) => [l.fields.revision, l.fields.via]);
  return { follower: made, store, logs, applied };
}

test('with a watch, documents come through it and older revisions are ignored; HTTP is not asked while it delivers', async (t) => {
  const cp = await controlPlane(t);
  cp.publish(1);
  const { follower: f, applied } = follower(t, cp.url, 60_000);
  let deliver!: (document: unknown) => void;
  f.start(async (onDocument) => {
    deliver = onDocument;
    onDocument(doc(1));
  });
  await until('the current document is applied', () => applied().length === 1);
  deliver(doc(3));
  deliver(doc(2));
  deliver(doc(3));
  deliver(doc(4));
  await until('revision 4 is applied', () => f.revision() === 4);
  t.deepEqual(applied(), [
    [1, 'jetstream'],
    [3, 'jetstream'],
    [4, 'jetstream'],
  ]);
  t.is(cp.state.requests, 0);
});

test('a silent watch makes the agent follow the HTTP long poll until the watch delivers again', async (t) => {
  const cp = await controlPlane(t);
  cp.publish(5);
  const { follower: f, applied, logs } = follower(t, cp.url, 300);
  let deliver!: (document: unknown) => void;
  f.start(async (onDocument) => {
    deliver = onDocument; // and never a word
  });
  await until('the long poll brings revision 5', () => f.revision() === 5);
  t.true(logs.some((l) => l.level === 'warn' && /watch is silent/.test(l.message ?? '')));
  cp.publish(6);
  await until('and revision 6', () => f.revision() === 6);
  deliver(doc(7));
  await until('the watch brings revision 7', () => f.revision() === 7);
  t.true(logs.some((l) => /watch delivers again/.test(l.message ?? '')));
  t.deepEqual(applied(), [
    [5, 'http'],
    [6, 'http'],
    [7, 'jetstream'],
  ]);
});

test('a step needing a newer revision than the watch has brought fetches it at once; one that never comes fails naming both revisions', async (t) => {
  const cp = await controlPlane(t);
  cp.publish(1);
  const { follower: f, applied } = follower(t, cp.url, 60_000);
  f.start(async (onDocument) => onDocument(doc(1))); // the watch delivers revision 1 and then stays quiet
  await until('revision 1 is applied', () => f.revision() === 1);
  cp.state.revision = 3; // published at the control plane; the watch has not brought it
  const since = Date.now();
  await f.reach(3, 10_000);
  t.is(f.revision(), 3);
  t.true(Date.now() - since < 5_000, 'fetched at once, not at the next republish');
  t.deepEqual(applied().at(-1), [3, 'http']);
  await f.reach(2, 10_000); // already past it: resolves without asking
  const error = await t.throwsAsync(f.reach(9, 1_500));
  t.regex(error!.message, /serves desired-state revision 3 and the step needs revision 9 or later/);
});
