/**
 * The machine representation every machine route answers: its site, its interfaces by
 * name, the latest result of each hardware test by name, and the failure reason — the
 * same from GET by id, GET by hostname, the list and the answer to a change.
 */
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { backends, startHarness, type Harness } from '@sprout/test-support/harness.ts';

// A power driver plugin (`fakebmc`), so the machine can have a BMC that is not manual.
const powerFixture = fileURLToPath(new URL('./fixtures/plugin-dirs/power-fixture', import.meta.url));

for (const backend of backends) {
  let h: Harness;

  test.before(async () => {
    h = await startHarness(backend, { env: { SPROUT_PLUGIN_DIR: powerFixture } });
  });

  test.after.always(async () => {
    await h?.stop();
  });

  test.serial(`${backend}: one machine with interfaces, hardware tests and a failure reason reads the same through every route`, async (t) => {
    const site = (await h.request({ method: 'POST', url: '/v1/sites', body: { name: 'view-site' } })).body.site;
    const created = await h.request({
      method: 'POST',
      url: '/v1/machines',
      body: {
        site: 'view-site',
        hostname: 'View-1',
        arch: 'arm64',
        bootMode: 'uefi',
        tags: ['rack-1', 'gpu'],
        bmc: { type: 'fakebmc', address: '10.0.0.9:623' },
        expected: { cpus: 8 },
        interfaces: [
          { mac: '02:00:00:00:10:02', name: 'eth1' },
          { mac: '02:00:00:00:10:01', name: 'eth0', pxe: true },
        ],
      },
    });
    t.is(created.status, 201);
    const id: string = created.body.id;
    const db = h.kernel.store.db;
    const workflow = '7d0f5c3e-6f5b-4c2e-9a53-2b1b7e0f0a11';
    await db('hardware_test_results').insert([
      { machine_id: id, workflow_id: null, name: 'memory', status: 'passed', duration_ms: 1200, output: 'ok', at: '2026-11-26T08:00:00.123456Z' },
      { machine_id: id, workflow_id: null, name: 'cpu', status: 'passed', duration_ms: 300, output: 'first run', at: '2026-11-26T08:00:01Z' },
      { machine_id: id, workflow_id: workflow, name: 'cpu', status: 'failed', duration_ms: 450, output: 'core 3 faulted', at: '2026-11-26T08:05:00.5Z' },
    ]);
    const reason = { code: 'SPROUT_ERR_HWTEST_FAILED', message: 'cpu failed', step: 'hwtest', workflow };
    await db('machines')
      .where({ id })
      .update({ status: 'failed_testing', status_reason: JSON.stringify(reason), hardware: JSON.stringify({ cpus: 8, memoryMiB: 4096 }), owner: 'alice' });

    const shown = await h.request({ url: `/v1/machines/${id}` });
    t.is(shown.status, 200);
    const row = await db('machines').where({ id }).first();
    t.deepEqual(shown.body, {
      id,
      site: { id: site.id, name: 'view-site' },
      hostname: 'view-1',
      arch: 'arm64',
      bootMode: 'uefi',
      status: 'failed_testing',
      statusReason: reason,
      statusChangedAt: new Date(row.status_changed_at).toISOString(),
      statusDeadline: null,
      currentWorkflow: null,
      allowedActions: shown.body.allowedActions,
      tags: ['rack-1', 'gpu'],
      interfaces: [
        { id: shown.body.interfaces[0].id, mac: '02:00:00:00:10:01', name: 'eth0', pxe: true },
        { id: shown.body.interfaces[1].id, mac: '02:00:00:00:10:02', name: 'eth1', pxe: false },
      ],
      bmc: { type: 'fakebmc', address: '10.0.0.9:623', username: null, insecure: false, options: {}, credentialsSet: false },
      power: { state: null, checkedAt: null, error: null },
      powerMismatch: null,
      expected: { cpus: 8 },
      hardware: { cpus: 8, memoryMiB: 4096 },
      owner: 'alice',
      hardwareTests: [
        { name: 'cpu', status: 'failed', durationMs: 450, output: 'core 3 faulted', at: '2026-11-26T08:05:00.500Z', workflow },
        { name: 'memory', status: 'passed', durationMs: 1200, output: 'ok', at: '2026-11-26T08:00:00.123Z', workflow: null },
      ],
      createdAt: created.body.createdAt,
      updatedAt: new Date(row.updated_at).toISOString(),
      addresses: [],
    });
    t.true(shown.body.allowedActions.length > 0);

    t.deepEqual((await h.request({ url: '/v1/machines/VIEW-1' })).body, shown.body);
    // Only GET /v1/machines/{id} looks up the machine's addresses; lists and writes answer the rest, the same.
    const { addresses: _addresses, ...withoutAddresses } = shown.body;
    const listed = await h.request({ url: '/v1/machines?site=view-site&tag=gpu&status=failed_testing' });
    t.deepEqual(listed.body, { items: [withoutAddresses], nextCursor: null });
    const patched = await h.request({ method: 'PATCH', url: `/v1/machines/${id}`, body: { owner: 'alice' } });
    t.deepEqual(patched.body, withoutAddresses);
  });

  test.serial(`${backend}: a machine without tests shows empty lists, and an unknown one is 404`, async (t) => {
    await h.request({ method: 'POST', url: '/v1/sites', body: { name: 'view-empty' } });
    const created = await h.request({
      method: 'POST',
      url: '/v1/machines',
      body: { site: 'view-empty', hostname: 'bare-1', arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac: '02:00:00:00:20:01' }] },
    });
    t.deepEqual(created.body.hardwareTests, []);
    t.deepEqual((await h.request({ url: `/v1/machines/${created.body.id}` })).body, { ...created.body, addresses: [] });
    const missing = await h.request({ url: '/v1/machines/7d0f5c3e-6f5b-4c2e-9a53-000000000000' });
    t.is(missing.status, 404);
    t.is(missing.body.code, 'SPROUT_ERR_NOT_FOUND');
  });

  test.serial(`${backend}: the list filters by site name or id, pages by cursor, and an unknown site is 404`, async (t) => {
    const site = (await h.request({ method: 'POST', url: '/v1/sites', body: { name: 'view-list' } })).body.site;
    for (const n of [3, 1, 2]) {
      await h.request({
        method: 'POST',
        url: '/v1/machines',
        body: {
          site: 'view-list',
          hostname: `list-${n}`,
          arch: 'x86_64',
          bootMode: 'bios',
          tags: [n % 2 ? 'odd' : 'even'],
          interfaces: [{ mac: `02:00:00:00:40:0${n}` }],
        },
      });
    }
    const first = await h.request({ url: '/v1/machines?site=view-list&limit=2' });
    t.deepEqual(
      first.body.items.map((m: any) => m.hostname),
      ['list-1', 'list-2'],
    );
    const rest = await h.request({ url: `/v1/machines?site=${site.id}&limit=2&cursor=${first.body.nextCursor}` });
    t.deepEqual(
      rest.body.items.map((m: any) => m.hostname),
      ['list-3'],
    );
    t.is(rest.body.nextCursor, null);
    t.deepEqual(
      (await h.request({ url: '/v1/machines?site=view-list&tag=odd' })).body.items.map((m: any) => m.hostname),
      ['list-1', 'list-3'],
    );
    t.deepEqual((await h.request({ url: '/v1/machines?site=view-list&status=ready' })).body, { items: [], nextCursor: null });
    const unknown = await h.request({ url: '/v1/machines?site=no-such-site' });
    t.is(unknown.status, 404);
    t.is(unknown.body.code, 'SPROUT_ERR_NOT_FOUND');
  });

  test.serial(`${backend}: a hostname at two sites asks for the id`, async (t) => {
    for (const name of ['view-dup-a', 'view-dup-b']) {
      await h.request({ method: 'POST', url: '/v1/sites', body: { name } });
    }
    await h.request({
      method: 'POST',
      url: '/v1/machines',
      body: { site: 'view-dup-a', hostname: 'twin', arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac: '02:00:00:00:30:01' }] },
    });
    await h.request({
      method: 'POST',
      url: '/v1/machines',
      body: { site: 'view-dup-b', hostname: 'twin', arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac: '02:00:00:00:30:02' }] },
    });
    const both = await h.request({ url: '/v1/machines/twin' });
    t.is(both.status, 409);
    t.is(both.body.code, 'SPROUT_ERR_CONFLICT');
  });
}
