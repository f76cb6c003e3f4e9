/**
 * How operators name things: a machine by its MAC or a short id, a workflow by a short
 * id (ambiguous prefixes refused, listing the candidates), and the audit trail of a
 * machine found by its hostname or its id alike.
 */
import test from 'ava';
import { backends, startHarness } from '@sprout/test-support/harness.ts';
import { createMachine, siteWithNetwork } from '@sprout/test-support/control-plane.ts';

for (const backend of backends) {
  test(`${backend}: short ids, MACs, and audit records by hostname or id`, async (t) => {
    const h = await startHarness(backend);
    t.teardown(() => h.stop());
    await siteWithNetwork(h, 'look');
    const made = await createMachine(h, 'look', 'node-a', { interfaces: [{ mac: '52:54:00:77:00:01' }] });
    // two more machines whose ids share their first 4 hex digits, copied from the first row
    const db = h.kernel.store.db;
    const row = await db('machines').where({ id: made.id }).first();
    await db('machines').insert({
      ...row,
      id: 'abcd1234-0000-4000-8000-000000000001',
      hostname: 'node-b',
      tags: JSON.stringify(row.tags),
      expected: JSON.stringify(row.expected),
      hardware: JSON.stringify(row.hardware),
    });
    await db('machines').insert({
      ...row,
      id: 'abcd5678-0000-4000-8000-000000000002',
      hostname: 'node-c',
      tags: JSON.stringify(row.tags),
      expected: JSON.stringify(row.expected),
      hardware: JSON.stringify(row.hardware),
    });

    const byMac = await h.request({ url: '/v1/machines/52-54-00-77-00-01' });
    t.is(byMac.status, 200, JSON.stringify(byMac.body));
    t.is(byMac.body.hostname, 'node-a');
    t.deepEqual(byMac.body.addresses, []);
    const byPrefix = await h.request({ url: `/v1/machines/${made.id.slice(0, 6)}` });
    t.is(byPrefix.body.hostname, 'node-a');
    t.is((await h.request({ url: '/v1/machines/abcd12' })).body.hostname, 'node-b');
    const ambiguous = await h.request({ url: '/v1/machines/abcd' });
    t.is(ambiguous.status, 409);
    t.like(ambiguous.body, { code: 'SPROUT_ERR_CONFLICT' });
    t.regex(ambiguous.body.detail, /"abcd" is the start of several machine ids \(abcd1234 \(node-b\), abcd5678 \(node-c\)\); give more of the id/);
    t.is((await h.request({ method: 'PATCH', url: '/v1/machines/abcd', body: { owner: 'x' } })).status, 409, 'actions refuse an ambiguous prefix too');
    t.is((await h.request({ url: '/v1/machines/ffff0000' })).status, 404);

    // workflows by short id
    const commission = await h.request({ method: 'POST', url: `/v1/machines/${made.id.slice(0, 8)}/commission`, body: { hwtest: false } });
    t.is(commission.status, 202, JSON.stringify(commission.body));
    const wfId: string = commission.body.id;
    t.is((await h.request({ url: `/v1/workflows/${wfId.slice(0, 5)}` })).body.id, wfId);
    const wfRow = await db('workflows').where({ id: wfId }).first();
    const twin = `${wfId.slice(0, 5)}${wfId[5] === 'a' ? 'b' : 'a'}${wfId.slice(6)}`;
    await db('workflows').insert({ ...wfRow, id: twin, state: 'cancelled', params: JSON.stringify(wfRow.params) });
    const wfAmbiguous = await h.request({ url: `/v1/workflows/${wfId.slice(0, 5)}` });
    t.is(wfAmbiguous.status, 409);
    t.regex(wfAmbiguous.body.detail, /is the start of several workflow ids/);
    const cancelled = await h.request({ method: 'POST', url: `/v1/workflows/${wfId.slice(0, 6)}/cancel` });
    t.is(cancelled.status, 202, JSON.stringify(cancelled.body));
    t.is(cancelled.body.id, wfId);
    t.is((await h.request({ url: '/v1/workflows/zz' })).status, 400);

    // a refused request records what the URL said (the hostname), a success the id: --target finds both
    const viewer = await h.token('viewer');
    t.is((await h.request({ method: 'PATCH', url: '/v1/machines/node-a', token: viewer, body: { owner: 'me' } })).status, 403);
    t.is((await h.request({ method: 'PATCH', url: '/v1/machines/node-a', body: { owner: 'me' } })).status, 200);
    for (const target of ['node-a', made.id]) {
      const audit = await h.request({ url: `/v1/audit?target=${target}&action=machine.update` });
      t.is(audit.status, 200);
      t.deepEqual(audit.body.items.map((r: any) => r.outcome).sort(), ['denied', 'success'], `--target ${target}`);
    }
    const other = await h.request({ url: '/v1/audit?target=node-b&action=machine.update' });
    t.deepEqual(other.body.items, []);
  });
}
