/**
 * Cursors are opaque, but they come back from clients: a cursor this API did not issue
 * (a NUL byte, base64 of garbage, another list's cursor) is a 400 problem naming the
 * field `cursor`, on every list — never a 500 from the database, never a silent empty
 * page. Lists that do not paginate refuse a cursor rather than ignore it.
 */
import test from 'ava';
import { backends, startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { createMachine, siteWithNetwork } from '@sprout/test-support/control-plane.ts';

const garbage = [
  ['a NUL byte', '%00'],
  [
    'a NUL inside a well-formed machine cursor',
    encodeURIComponent(Buffer.from(JSON.stringify(['a\u0000b', '00000000-0000-4000-8000-000000000000'])).toString('base64url')),
  ],
  ['base64 of garbage', encodeURIComponent(Buffer.from('garbage!').toString('base64url'))],
  ['text that is not base64', 'not*a*cursor'],
  ['a negative audit id', encodeURIComponent(Buffer.from('a:-5').toString('base64url'))],
  [
    'a workflow cursor dated February 30th',
    encodeURIComponent(Buffer.from(JSON.stringify(['workflows', '2026-02-30T00:00:00.000000Z', '00000000-0000-4000-8000-000000000000'])).toString('base64url')),
  ],
  [
    'a workflow cursor with a millisecond time',
    encodeURIComponent(Buffer.from(JSON.stringify(['workflows', '2026-02-03T00:00:00.000Z', '00000000-0000-4000-8000-000000000000'])).toString('base64url')),
  ],
] as const;

for (const backend of backends) {
  let h: Harness;
  let lists: string[] = [];
  test.before(async () => {
    h = await startHarness(backend);
    const { site } = await siteWithNetwork(h, `cursor-${backend}`, 40);
    const machine = await createMachine(h, site.name, 'cursor-m1');
    const network = (await h.request({ url: `/v1/networks?site=${site.name}` })).body.items[0];
    lists = [
      '/v1/machines',
      '/v1/audit',
      '/v1/sites',
      '/v1/workflows',
      '/v1/networks',
      '/v1/tokens',
      `/v1/networks/${network.id}/allocations`,
      `/v1/sites/${site.id}/leases`,
      `/v1/sites/${site.id}/discovered-macs`,
      `/v1/machines/${machine.id}/events`,
    ];
  });
  test.after.always(() => h?.stop());

  test.serial(`${backend}: a cursor the API did not issue is 400 SPROUT_ERR_VALIDATION naming cursor, on every list`, async (t) => {
    const wrong: string[] = [];
    let tried = 0;
    for (const list of lists) {
      for (const [what, cursor] of garbage) {
        tried++;
        const res = await h.request({ url: `${list}${list.includes('?') ? '&' : '?'}cursor=${cursor}` });
        const fields = (res.body?.errors ?? []).map((e: { field?: string }) => e.field ?? '');
        if (
          res.status !== 400 ||
          res.body?.code !== 'SPROUT_ERR_VALIDATION' ||
          !fields.some((f: string) => /(^|\/)cursor$/.test(f)) ||
          !/^application\/problem\+json/.test(String(res.headers['content-type']))
        ) {
          wrong.push(`${list} with ${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
        }
      }
    }
    t.deepEqual(wrong, []);
    t.log(`${tried} bad cursors tried on ${lists.length} lists`);
  });

  test.serial(`${backend}: the cursors the API issues still page through machines and audit`, async (t) => {
    const { site } = await siteWithNetwork(h, `cursor-page-${backend}`, 41);
    for (let i = 2; i <= 3; i++) await createMachine(h, site.name, `cursor-m${i}`);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res: { body: { items: { hostname: string }[]; nextCursor: string | null } } = await h.request({
        url: `/v1/machines?site=${site.name}&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      });
      seen.push(...res.body.items.map((m) => m.hostname));
      cursor = res.body.nextCursor;
      if (!cursor) break;
    }
    t.deepEqual(seen, ['cursor-m2', 'cursor-m3']);
    const first = await h.request({ url: '/v1/audit?limit=1' });
    t.truthy(first.body.nextCursor);
    const second = await h.request({ url: `/v1/audit?limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}` });
    t.is(second.status, 200);
    t.true(second.body.items[0].id < first.body.items[0].id);
  });

  test.serial(`${backend}: workflow cursors page newest first through equal and microsecond-apart creation times, skipping none`, async (t) => {
    const { site } = await siteWithNetwork(h, `cursor-wf-${backend}`, 42);
    const db = h.kernel.store.db;
    // Five workflows: two created at the same instant (the id breaks the tie), two a microsecond apart
    // (a millisecond cursor would skip or repeat one), one a second earlier.
    const at = [
      '2026-03-01 10:00:00.000500+00',
      '2026-03-01 10:00:00.000500+00',
      '2026-03-01 10:00:00.000499+00',
      '2026-03-01 10:00:00.000498+00',
      '2026-03-01 09:59:59.5+00',
    ];
    const ids = at.map((_, i) => `00000000-0000-4000-8000-00000000000${i}`);
    await db('workflows').insert(
      at.map((createdAt, i) => ({
        id: ids[i],
        kind: 'paging-test',
        site_id: site.id,
        state: 'succeeded',
        created_by: 'test',
        created_at: createdAt,
        updated_at: createdAt,
      })),
    );
    const expected = [ids[1], ids[0], ids[2], ids[3], ids[4]];
    const all = await h.request({ url: `/v1/workflows?kind=paging-test&site=${site.name}` });
    t.deepEqual(
      all.body.items.map((w: { id: string }) => w.id),
      expected,
    );
    t.is(all.body.nextCursor, null);
    for (const limit of [1, 2, 3]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const res: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await h.request({
          url: `/v1/workflows?kind=paging-test&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        });
        t.is(res.status, 200);
        seen.push(...res.body.items.map((w) => w.id));
        cursor = res.body.nextCursor;
        if (!cursor) break;
      }
      t.deepEqual(seen, expected, `limit ${limit}`);
    }
    // A machines cursor is not a workflows cursor.
    const machines = await h.request({ url: '/v1/machines?limit=1' });
    const foreign = await h.request({ url: `/v1/workflows?cursor=${encodeURIComponent(machines.body.nextCursor)}` });
    t.is(foreign.status, 400);
  });
}
