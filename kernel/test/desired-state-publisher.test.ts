/**
 * The control plane pushes each site's desired-state document to a transport that
 * carries it (transport-nats' STATE bucket): after every revision, one publish in flight
 * per site with the newest document published once more after it, a failure logged once
 * and healed by the periodic republish. The transport here records what it is handed;
 * the store and the revisions are the kernel's own.
 */
import test from 'ava';
import pino from 'pino';
import { Writable } from 'node:stream';
import { backends, startHarness } from '@sprout/test-support/harness.ts';
import { until } from '@sprout/test-support/until.ts';
import { DesiredStatePublisher } from '../src/domain/sites/desired-state-publisher.ts';
import type { SiteDesiredStateDocument, TransportProvider } from '../src/index.ts';

/** Publishes are recorded; `hold` keeps the next ones waiting, `failing` makes them throw. */
function recordingTransport() {
  const published: { siteId: string; revision: number }[] = [];
  const state = { failing: false, attempts: 0, hold: undefined as Promise<void> | undefined };
  const transport = {
    async publishDesiredState(siteId: string, document: SiteDesiredStateDocument) {
      state.attempts++;
      await state.hold;
      if (state.failing) throw new Error('broker unavailable');
      published.push({ siteId, revision: document.revision });
    },
  } as unknown as TransportProvider;
  return { transport, published, state };
}

function capturedLogger() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );
  return { logger, lines };
}

for (const backend of backends) {
  test.serial(
    `${backend}: a site's document is published on start and after each change, coalesced to the newest; a failure is logged once and healed`,
    async (t) => {
      const h = await startHarness(backend);
      const { transport, published, state } = recordingTransport();
      const { logger, lines } = capturedLogger();
      const publishers: DesiredStatePublisher[] = [];
      const publisherEvery = (republishMs: number) => {
        const made = new DesiredStatePublisher({
          db: h.kernel.store.db,
          revisions: h.kernel.services.siteRevisions,
          transport: async () => transport,
          build: (siteId) => h.kernel.desiredState(siteId),
          logger,
          republishMs,
        });
        publishers.push(made);
        return made;
      };
      let release: (() => void) | undefined;
      t.teardown(async () => {
        // A publish still held (a failed assertion) must not keep stop() waiting.
        state.hold = undefined;
        release?.();
        for (const p of publishers) await p.stop();
        await h.stop();
      });
      t.is((await h.request({ method: 'POST', url: '/v1/sites', body: { name: 'pub1' } })).status, 201);
      const site = (await h.request({ method: 'GET', url: '/v1/sites/pub1' })).body;
      let net = 0;
      const change = async () => {
        const made = await h.request({
          method: 'POST',
          url: '/v1/networks',
          body: { site: 'pub1', name: `n${net}`, cidr: `198.18.${net}.0/24`, gateway: `198.18.${net}.1` },
        });
        net++;
        t.is(made.status, 201, JSON.stringify(made.body));
      };
      const current = async () => (await h.request({ method: 'GET', url: '/v1/sites/pub1' })).body.desiredRevision as number;

      // At start: the site's document, as it is.
      state.hold = new Promise((resolve) => (release = resolve));
      const first = publisherEvery(3_600_000);
      await first.start();
      await until('the first publish is under way', async () => state.attempts === 1);
      // Three changes while it is in flight: one more publish follows, with the newest.
      await change();
      await change();
      await change();
      const newest = await current();
      state.hold = undefined;
      release!();
      await until('the newest revision is published', async () => published.some((p) => p.revision === newest));
      t.is(published[0].siteId, site.id);
      t.true(published[0].revision < newest);
      t.deepEqual(
        published.map((p) => p.revision),
        [published[0].revision, newest],
        'the changes made during the first publish were published once, as the newest document',
      );
      await first.stop();

      // The broker fails (from start): logged once however many publishes fail, then healed by the periodic republish alone.
      state.failing = true;
      const before = state.attempts;
      await publisherEvery(300).start();
      await change();
      await change();
      await until('the start and both changes were tried', async () => state.attempts >= before + 3);
      const warnings = () => lines.filter((l) => /cannot publish the desired state/.test(l.msg));
      t.is(warnings().length, 1);
      const latest = await current();
      state.failing = false;
      await until('the periodic republish heals it', async () => published.some((p) => p.revision === latest));
      t.true(lines.some((l) => /published again/.test(l.msg)));
      t.is(warnings().length, 1);
    },
  );
}
