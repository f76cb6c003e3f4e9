/**
 * A site's image store on the control plane, on both stores: the agent's heartbeats
 * become the site's image rows; a deploy by a name the site does not hold — or before its
 * agent ever reported — is refused at request time naming the image and the site; imports
 * and removals are work items the agent settles; a removal is refused while a running
 * deploy uses the image. The agent is played over the HTTP transport (fake-power-agent);
 * image-store-agent.test.ts runs the real one.
 */
import test from 'ava';
import { backends, startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { readyMachine, siteWithNetwork } from '@sprout/test-support/control-plane.ts';
import { fakeAgent } from '@sprout/test-support/fake-power-agent.ts';
import { until } from '@sprout/test-support/until.ts';

/** An image request once its agent's report has been applied (bounded wait). */
const settled = (h: Harness, id: string) =>
  until(
    'the image request settled',
    async () => {
      const request = (await h.request({ url: `/v1/sites/img-site/image-requests/${id}` })).body;
      return request.state !== 'pending' && request;
    },
    10_000,
  );

const sumA = 'a1'.repeat(32);

for (const backend of backends) {
  let h: Harness;
  let joinToken: string;
  test.before(async () => {
    h = await startHarness(backend);
    joinToken = (await siteWithNetwork(h, 'img-site', 41)).joinToken;
  });
  test.after.always(async () => h?.stop());

  test.serial(`${backend}: a deploy by name is refused until the site's agent reports the image; the list shows what it reported`, async (t) => {
    await readyMachine(h, 'img-site', 'img-01');
    const early = await h.request({ method: 'POST', url: '/v1/machines/img-01/deploy', body: { image: 'debian-12.raw' } });
    t.is(early.status, 409);
    t.regex(early.body.detail, /site img-site has reported no images yet: is its agent online/);
    t.is((await h.request({ url: '/v1/machines/img-01' })).body.status, 'ready', 'the refused deploy allocated nothing');

    const agent = await fakeAgent(h.request, joinToken, () => h.kernel.services.dispatcher.drain());
    const beat = await agent.heartbeat({
      images: [
        { name: 'debian-12.raw', size: 4096, sha256: sumA, format: 'raw' },
        { name: 'big.qcow2', size: 1 << 30, sha256: null, format: 'qcow2' },
        { name: 'big.raw.zst', size: 1 << 20, sha256: null, format: 'zstd' },
      ],
    });
    t.is(beat.status, 200, JSON.stringify(beat.body));
    const viewer = await h.token('viewer', `img-viewer-${backend}`);
    const listed = await h.request({ url: '/v1/images?site=img-site', token: viewer });
    t.is(listed.status, 200);
    t.deepEqual(
      listed.body.items.map((i: any) => [i.name, i.site, i.size, i.sha256, i.format]),
      [
        ['big.qcow2', 'img-site', 1 << 30, null, 'qcow2'],
        ['big.raw.zst', 'img-site', 1 << 20, null, 'zstd'],
        ['debian-12.raw', 'img-site', 4096, sumA, 'raw'],
      ],
    );
    t.truthy((await h.request({ url: '/v1/sites/img-site/images', token: viewer })).body.reportedAt);
    t.is(
      (await h.request({ method: 'POST', url: '/v1/sites/img-site/images', token: viewer, body: { path: '/srv/x.raw', sha256: sumA } })).status,
      403,
      'import is for operators',
    );

    const unknown = await h.request({ method: 'POST', url: '/v1/machines/img-01/deploy', body: { image: 'nope.raw' } });
    t.is(unknown.status, 409);
    t.is(unknown.body.detail.split(';')[0], 'image nope.raw is not in the image store of site img-site');
    t.regex(unknown.body.detail, /it has: big\.qcow2, big\.raw\.zst, debian-12\.raw/);
    const ambiguous = await h.request({ method: 'POST', url: '/v1/machines/img-01/deploy', body: { image: 'big' } });
    t.is(ambiguous.status, 409);
    t.is(ambiguous.body.detail, 'image big is ambiguous at site img-site: it could be big.qcow2 or big.raw.zst; name the file');
    t.is(
      (await h.request({ method: 'POST', url: '/v1/machines/img-01/deploy', body: { image: 'debian' } })).status,
      409,
      'a short name is the whole name before the image suffix, not a prefix',
    );
    const qcow2 = await h.request({ method: 'POST', url: '/v1/machines/img-01/deploy', body: { image: 'big.qcow2' } });
    t.is(qcow2.status, 409);
    t.is(
      qcow2.body.detail,
      'image big.qcow2 at site img-site is qcow2, which the installer cannot write to a disk; store it raw (or gzip/xz-compressed raw): qemu-img convert -O raw big.qcow2 big.raw',
    );
    t.is((await h.request({ url: '/v1/machines/img-01' })).body.status, 'ready');

    // A file deleted at the site leaves the list with the next heartbeat.
    await agent.heartbeat({ images: [{ name: 'debian-12.raw', size: 4096, sha256: sumA, format: 'raw' }] });
    t.deepEqual(
      (await h.request({ url: '/v1/sites/img-site/images' })).body.items.map((i: any) => i.name),
      ['debian-12.raw'],
    );
    const deploy = await h.request({ method: 'POST', url: '/v1/machines/img-01/deploy', body: { image: 'debian-12' } });
    t.is(deploy.status, 202, JSON.stringify(deploy.body));
    t.is(deploy.body.params.image, 'debian-12.raw', 'the short name became the file the site holds');
  });

  test.serial(`${backend}: a removal is refused while a running deploy uses the image; otherwise the agent removes it and the row goes`, async (t) => {
    const agent = await fakeAgent(h.request, (await h.request({ method: 'POST', url: '/v1/sites/img-site/join-tokens' })).body.token, () =>
      h.kernel.services.dispatcher.drain(),
    );
    await agent.heartbeat({
      images: [
        { name: 'debian-12.raw', size: 4096, sha256: sumA, format: 'raw' },
        { name: 'old.raw', size: 10, sha256: 'b2'.repeat(32), format: 'raw' },
      ],
    });
    await readyMachine(h, 'img-site', 'img-02');
    const deploy = await h.request({ method: 'POST', url: '/v1/machines/img-02/deploy', body: { image: 'old.raw' } });
    t.is(deploy.status, 202);
    const inUse = await h.request({ method: 'DELETE', url: '/v1/sites/img-site/images/old.raw' });
    t.is(inUse.status, 409);
    t.regex(inUse.body.detail, /image old\.raw is in use at site img-site by the running deploy of img-02/);
    t.is((await h.request({ method: 'POST', url: `/v1/workflows/${deploy.body.id}/cancel` })).status, 202);

    let removal = { status: 0, body: {} as any };
    for (let i = 0; i < 100 && removal.status !== 202; i++) {
      removal = await h.request({ method: 'DELETE', url: '/v1/sites/img-site/images/old.raw' });
      if (removal.status !== 202) await new Promise((r) => setTimeout(r, 100));
    }
    t.is(removal.status, 202, JSON.stringify(removal.body));
    t.like(removal.body, { action: 'remove', name: 'old.raw', state: 'pending', site: 'img-site' });
    t.is(
      (await h.request({ method: 'POST', url: '/v1/machines/img-01/deploy', body: { image: 'old.raw' } })).status,
      409,
      'no deploy of an image being removed',
    );
    const work = await agent.work('image-remove');
    t.like(work.payload, { name: 'old.raw', request: removal.body.id });
    await agent.report('task.succeeded', work.id, { result: { name: 'old.raw', removed: true } });
    t.like(await settled(h, removal.body.id), { state: 'succeeded', result: { removed: true } });
    t.deepEqual(
      (await h.request({ url: '/v1/sites/img-site/images' })).body.items.map((i: any) => i.name),
      ['debian-12.raw'],
    );
    const audit = (await h.request({ url: '/v1/audit?action=image.remove' })).body.items;
    t.true(audit.some((r: any) => r.outcome === 'success' && r.details.name === 'old.raw'));
    t.true(
      audit.some((r: any) => r.outcome !== 'success'),
      'the refused removal is audited too',
    );
  });

  test.serial(`${backend}: an import names exactly one source and its sum; the agent's failure settles the request with its words`, async (t) => {
    const agent = await fakeAgent(h.request, (await h.request({ method: 'POST', url: '/v1/sites/img-site/join-tokens' })).body.token, () =>
      h.kernel.services.dispatcher.drain(),
    );
    const both = await h.request({
      method: 'POST',
      url: '/v1/sites/img-site/images',
      body: { url: 'http://198.18.41.1/x.raw', path: '/srv/x.raw', sha256: sumA },
    });
    t.is(both.status, 400);
    t.regex(both.body.detail, /exactly one of url .* or path/);
    t.is((await h.request({ method: 'POST', url: '/v1/sites/img-site/images', body: { url: 'http://198.18.41.1/x.raw' } })).status, 400);
    const started = await h.request({
      method: 'POST',
      url: '/v1/sites/img-site/images',
      body: { url: 'http://198.18.41.1/images/debian-13.raw', sha256: sumA.toUpperCase() },
    });
    t.is(started.status, 202, JSON.stringify(started.body));
    t.like(started.body, {
      action: 'import',
      name: 'debian-13.raw',
      state: 'pending',
      source: { url: 'http://198.18.41.1/images/debian-13.raw', sha256: sumA },
    });
    const again = await h.request({ method: 'POST', url: '/v1/sites/img-site/images', body: { path: '/srv/debian-13.raw', sha256: sumA } });
    t.is(again.status, 409, 'one pending request per image');
    const work = await agent.work('image-import');
    t.like(work.payload, { name: 'debian-13.raw', url: 'http://198.18.41.1/images/debian-13.raw', sha256: sumA });
    await agent.report('task.failed', work.id, { error: 'downloading http://198.18.41.1/images/debian-13.raw answered HTTP 404' });
    t.like(await settled(h, started.body.id), { state: 'failed', error: 'downloading http://198.18.41.1/images/debian-13.raw answered HTTP 404' });
    t.false((await h.request({ url: '/v1/sites/img-site/images' })).body.items.some((i: any) => i.name === 'debian-13.raw'));
  });
}
