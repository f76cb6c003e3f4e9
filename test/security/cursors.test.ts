/**
 * Cursors are opaque, but they come back from clients: a cursor this API did not issue
 * (a NUL byte, base64 of garbage, another list's cursor) is a 400 problem naming the
 * field `cursor`, on every list — never a 500 from the database, never a silent empty
 * page. Lists that do not paginate refuse a cursor rather than ignore it.
 */
import test from 'ava';
import { backends, startHarness, type Harness } from '../helpers/harness.ts';
import { createMachine, siteWithNetwork } from '../helpers/control-plane.ts';

const garbage = [
  ['a NUL byte', '%00'],
  ['a NUL inside a well-formed machine cursor', encodeURIComponent(Buffer.from(JSON.stringify(['a\u0000b', '00000000-0000-4000-8000-000000000000'])).toString('base64url'))],
  ['base64 of garbage', encodeURIComponent(Buffer.from('garbage!').toString('base64url'))],
  ['text that is not base64', 'not*a*cursor'],
  ['a negative audit id', encodeURIComponent(Buffer.from('a:-5').toString('base64url'))],
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
        if (res.status !== 400 || res.body?.code !== 'SPROUT_ERR_VALIDATION' || !fields.some((f: string) => /(^|\/)cursor$/.test(f)) || !/^application\/problem\+json/.test(String(res.headers['content-type']))) {
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
      const res: { body: { items: { hostname: string }[]; nextCursor: string | null } } = await h.request({ url: `/v1/machines?site=${site.name}&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}` });
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
}
