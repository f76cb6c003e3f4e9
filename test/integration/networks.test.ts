/**
 * Networks and IP allocations through the HTTP API on both stores: validation that
 * names the field, overlap and name conflicts, utilisation, allocations that skip the
 * gateway and ranges, concurrency without duplicates, the audit trail, and the calls
 * the workflows make (ensureMachineAddress, releaseMachineAddresses).
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { backends, startHarness, type Harness } from '@sprout/test-support/harness.ts';

async function site(h: Harness, name: string): Promise<string> {
  const id = randomUUID();
  await h.kernel.store.db('sites').insert({ id, name });
  return id;
}

async function machine(h: Harness, siteId: string, hostname: string, nics: { name: string; mac: string; pxe?: boolean }[]) {
  const id = randomUUID();
  await h.kernel.store.db('machines').insert({ id, site_id: siteId, hostname, arch: 'x86_64', boot_mode: 'uefi' });
  const interfaces = nics.map((n) => ({ id: randomUUID(), machine_id: id, name: n.name, mac: n.mac, pxe: n.pxe ?? false }));
  await h.kernel.store.db('interfaces').insert(interfaces);
  return { id, hostname, interfaces };
}

const fields = (res: { body: any }) => (res.body.errors ?? []).map((e: any) => e.field);

for (const backend of backends) {
  let h: Harness;
  test.before(async () => {
    h = await startHarness(backend);
  });
  test.after.always(async () => {
    await h?.stop();
  });

  const create = (body: Record<string, unknown>, token?: string) => h.request({ method: 'POST', url: '/v1/networks', body, token });

  test(`${backend}: creating a network answers 201 with the network and is audited`, async (t) => {
    await site(h, `dc-create-${backend}`);
    const res = await create({
      site: `dc-create-${backend}`,
      name: 'prov',
      cidr: '198.18.0.0/24',
      gateway: '198.18.0.1',
      dnsServers: ['198.18.0.2'],
      domain: 'Lab.Example.',
      vlan: 100,
      ranges: [
        { kind: 'reserved', start: '198.18.0.240', end: '198.18.0.250' },
        { kind: 'dynamic', start: '198.18.0.100', end: '198.18.0.199' },
      ],
    });
    t.is(res.status, 201, JSON.stringify(res.body));
    t.like(res.body, {
      name: 'prov',
      site: { name: `dc-create-${backend}` },
      cidr: '198.18.0.0/24',
      gateway: '198.18.0.1',
      dnsServers: ['198.18.0.2'],
      domain: 'lab.example',
      vlan: 100,
      pxe: true,
    });
    t.deepEqual(
      res.body.ranges.map((r: any) => r.start),
      ['198.18.0.100', '198.18.0.240'],
      'ranges sorted by address',
    );
    const audit = await h.request({ url: `/v1/audit?action=network.create&target=${res.body.id}` });
    t.is(audit.body.items.length, 1);
    t.like(audit.body.items[0], { outcome: 'success', targetType: 'network', details: { name: 'prov', cidr: '198.18.0.0/24' } });
  });

  test(`${backend}: an invalid network is a 400 naming every bad field, and nothing is created`, async (t) => {
    await site(h, `dc-invalid-${backend}`);
    const base = { site: `dc-invalid-${backend}`, name: 'bad', cidr: '198.18.1.0/24', gateway: '198.18.1.1' };
    const hostBits = await create({ ...base, cidr: '198.18.1.5/24' });
    t.is(hostBits.status, 400);
    t.is(hostBits.body.code, 'SPROUT_ERR_VALIDATION');
    t.deepEqual(fields(hostBits), ['body/cidr']);
    t.regex(hostBits.body.errors[0].message, /host bits set; the network address of that block is 198\.18\.1\.0\/24/);

    const many = await create({
      ...base,
      gateway: '198.18.1.50',
      ranges: [
        { kind: 'dynamic', start: '198.18.1.40', end: '198.18.1.60' },
        { kind: 'reserved', start: '198.18.1.55', end: '198.18.1.70' },
        { kind: 'reserved', start: '198.18.1.90', end: '198.18.1.80' },
        { kind: 'dynamic', start: '198.18.1.200', end: '198.18.2.10' },
      ],
    });
    t.is(many.status, 400);
    t.deepEqual(fields(many).sort(), ['body/gateway', 'body/ranges/1', 'body/ranges/2', 'body/ranges/3']);

    for (const [patch, field] of [
      [{ gateway: '198.18.2.1' }, 'body/gateway'],
      [{ gateway: '198.18.1.0' }, 'body/gateway'],
      [{ gateway: '198.18.1.255' }, 'body/gateway'],
      [{ cidr: '198.18.1.0/31', gateway: '198.18.1.1' }, 'body/cidr'],
      [{ cidr: '198.18.1.0/33' }, 'body/cidr'],
      [{ vlan: 4095 }, 'body/vlan'],
      [{ domain: 'not a domain!' }, 'body/domain'],
      [{ dnsServers: ['198.18.1.300'] }, 'body/dnsServers/0'],
      [{ ranges: [{ kind: 'static', start: '198.18.1.2', end: '198.18.1.3' }] }, 'body/ranges/0/kind'],
    ] as const) {
      const res = await create({ ...base, ...patch });
      t.is(res.status, 400, JSON.stringify(patch));
      t.true(fields(res).includes(field), `${JSON.stringify(patch)} → ${JSON.stringify(fields(res))}`);
    }
    t.deepEqual((await h.request({ url: `/v1/networks?site=dc-invalid-${backend}` })).body.items, []);
  });

  test(`${backend}: an overlapping network or a taken name at the same site is a 409; other sites are separate`, async (t) => {
    await site(h, `dc-a-${backend}`);
    await site(h, `dc-b-${backend}`);
    t.is((await create({ site: `dc-a-${backend}`, name: 'wide', cidr: '198.18.4.0/22', gateway: '198.18.4.1' })).status, 201);
    const overlap = await create({ site: `dc-a-${backend}`, name: 'narrow', cidr: '198.18.5.0/24', gateway: '198.18.5.1' });
    t.is(overlap.status, 409);
    t.is(overlap.body.code, 'SPROUT_ERR_CONFLICT');
    t.regex(overlap.body.detail, /198\.18\.5\.0\/24 overlaps network wide \(198\.18\.4\.0\/22\)/);
    t.like(overlap.body.errors[0], { field: 'body/cidr', network: { name: 'wide', cidr: '198.18.4.0/22' } });
    const sameName = await create({ site: `dc-a-${backend}`, name: 'wide', cidr: '198.18.9.0/24', gateway: '198.18.9.1' });
    t.is(sameName.status, 409);
    t.deepEqual(fields(sameName), ['body/name']);
    // another site may reuse both the block and the name
    t.is((await create({ site: `dc-b-${backend}`, name: 'wide', cidr: '198.18.5.0/24', gateway: '198.18.5.1' })).status, 201);
    const noSite = await create({ site: `nowhere-${backend}`, name: 'x', cidr: '198.18.9.0/24', gateway: '198.18.9.1' });
    t.is(noSite.status, 404);
    t.deepEqual(fields(noSite), ['site']);
    const failed = await h.request({ url: '/v1/audit?action=network.create&outcome=failed' });
    t.true(failed.body.items.some((r: any) => r.requestId === overlap.body.requestId && /SPROUT_ERR_CONFLICT/.test(r.details.error)));
  });

  // Serial: the concurrent requests alone hold the pool, so waits measure the locks, not other tests.
  test.serial(`${backend}: of overlapping networks created at once exactly one is created`, async (t) => {
    await site(h, `dc-race-${backend}`);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        create({ site: `dc-race-${backend}`, name: `race-${i}`, cidr: i % 2 ? '198.18.12.0/24' : '198.18.12.0/23', gateway: '198.18.12.1' }),
      ),
    );
    t.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409]);
    t.is((await h.request({ url: `/v1/networks?site=dc-race-${backend}` })).body.items.length, 1);
  });

  test(`${backend}: list filters by site; show finds by id or name and asks for the site when a name is ambiguous`, async (t) => {
    await site(h, `dc-list1-${backend}`);
    await site(h, `dc-list2-${backend}`);
    const one = (await create({ site: `dc-list1-${backend}`, name: `shared-${backend}`, cidr: '198.18.16.0/24', gateway: '198.18.16.1' })).body;
    await create({ site: `dc-list2-${backend}`, name: `shared-${backend}`, cidr: '198.18.16.0/24', gateway: '198.18.16.1' });
    const listed = await h.request({ url: `/v1/networks?site=dc-list1-${backend}` });
    t.deepEqual(
      listed.body.items.map((n: any) => n.id),
      [one.id],
    );
    t.is((await h.request({ url: `/v1/networks/${one.id}` })).body.name, `shared-${backend}`);
    const ambiguous = await h.request({ url: `/v1/networks/shared-${backend}` });
    t.is(ambiguous.status, 409);
    t.regex(ambiguous.body.detail, /exists at several sites .*name the site/);
    const byName = await h.request({ url: `/v1/networks/shared-${backend}?site=dc-list1-${backend}` });
    t.is(byName.status, 200);
    t.is(byName.body.id, one.id);
    t.is((await h.request({ url: '/v1/networks/no-such-network' })).status, 404);
    t.is((await h.request({ url: '/v1/networks?site=no-such-site' })).status, 404);
  });

  test(`${backend}: utilisation counts usable, allocated, dynamic, reserved and free addresses`, async (t) => {
    await site(h, `dc-util-${backend}`);
    const net = (
      await create({
        site: `dc-util-${backend}`,
        name: 'util',
        cidr: '198.18.20.0/24',
        gateway: '198.18.20.1',
        ranges: [
          { kind: 'dynamic', start: '198.18.20.100', end: '198.18.20.199' },
          { kind: 'reserved', start: '198.18.20.2', end: '198.18.20.9' },
        ],
      })
    ).body;
    t.deepEqual((await h.request({ url: `/v1/networks/${net.id}` })).body.utilisation, { total: 254, allocated: 0, dynamic: 100, reserved: 8, free: 145 });
    for (let i = 0; i < 2; i++) t.is((await h.request({ method: 'POST', url: `/v1/networks/${net.id}/allocations`, body: {} })).status, 201);
    t.deepEqual((await h.request({ url: `/v1/networks/${net.id}` })).body.utilisation, { total: 254, allocated: 2, dynamic: 100, reserved: 8, free: 143 });
  });

  test(`${backend}: allocations skip the gateway and ranges, honour a requested address, refuse taken or foreign ones, and release`, async (t) => {
    await site(h, `dc-alloc-${backend}`);
    const net = (
      await create({
        site: `dc-alloc-${backend}`,
        name: 'alloc',
        cidr: '198.18.24.0/28',
        gateway: '198.18.24.1',
        ranges: [{ kind: 'dynamic', start: '198.18.24.2', end: '198.18.24.5' }],
      })
    ).body;
    const url = `/v1/networks/alloc/allocations?site=dc-alloc-${backend}`;
    const first = await h.request({ method: 'POST', url, body: { hostname: 'vip-1' } });
    t.is(first.status, 201, JSON.stringify(first.body));
    t.deepEqual(Object.keys(first.body).sort(), ['address', 'hostname', 'id', 'interfaceId', 'machineId', 'networkId', 'provider']);
    t.like(first.body, { address: '198.18.24.6', networkId: net.id, hostname: 'vip-1', machineId: null, interfaceId: null, provider: 'ipam-builtin' });
    const wanted = await h.request({ method: 'POST', url, body: { address: '198.18.24.10' } });
    t.is(wanted.status, 201);
    t.is(wanted.body.address, '198.18.24.10');

    const taken = await h.request({ method: 'POST', url, body: { address: '198.18.24.10' } });
    t.is(taken.status, 409);
    t.is(taken.body.code, 'SPROUT_ERR_CONFLICT');
    t.is((await h.request({ method: 'POST', url, body: { address: '198.18.24.1' } })).status, 409, 'the gateway');
    t.is((await h.request({ method: 'POST', url, body: { address: '198.18.24.3' } })).status, 409, 'inside the dynamic range');
    const outside = await h.request({ method: 'POST', url, body: { address: '198.18.25.7' } });
    t.is(outside.status, 400);
    t.is(outside.body.code, 'SPROUT_ERR_VALIDATION');
    t.deepEqual(fields(outside), ['address']);
    t.deepEqual(fields(await h.request({ method: 'POST', url, body: { address: 'ten' } })), ['body/address']);

    const list = await h.request({ url });
    t.deepEqual(
      list.body.items.map((a: any) => a.address),
      ['198.18.24.6', '198.18.24.10'],
    );

    const released = await h.request({ method: 'DELETE', url: `/v1/networks/${net.id}/allocations/${first.body.id}` });
    t.is(released.status, 200);
    t.is(released.body.address, '198.18.24.6');
    t.is((await h.request({ method: 'DELETE', url: `/v1/networks/${net.id}/allocations/${first.body.id}` })).status, 404);
    t.deepEqual(
      (await h.request({ url })).body.items.map((a: any) => a.address),
      ['198.18.24.10'],
    );
    t.is((await h.request({ method: 'POST', url, body: {} })).body.address, '198.18.24.6', 'a released address is reused');

    const audit = await h.request({ url: `/v1/audit?target=${first.body.id}` });
    const actions = audit.body.items.map((r: any) => [r.action, r.outcome, r.targetType, r.details.address, r.details.provider]);
    t.deepEqual(actions.filter((a: any) => a[1] === 'success').sort(), [
      ['ip.allocate', 'success', 'ip_allocation', '198.18.24.6', 'ipam-builtin'],
      ['ip.release', 'success', 'ip_allocation', '198.18.24.6', 'ipam-builtin'],
    ]);
  });

  test(`${backend}: an allocation names a machine and its interface; one interface gets one address per network`, async (t) => {
    const siteId = await site(h, `dc-mach-${backend}`);
    const otherSite = await site(h, `dc-mach-other-${backend}`);
    const m = await machine(h, siteId, `node-${backend}`, [
      { name: 'eth0', mac: '52:54:00:aa:00:01', pxe: true },
      { name: 'eth1', mac: '52:54:00:aa:00:02' },
    ]);
    await machine(h, otherSite, `far-${backend}`, [{ name: 'eth0', mac: '52:54:00:aa:00:03' }]);
    const net = (await create({ site: siteId, name: 'mach', cidr: '198.18.28.0/24', gateway: '198.18.28.1' })).body;
    const url = `/v1/networks/${net.id}/allocations`;
    const byMac = await h.request({ method: 'POST', url, body: { machine: `node-${backend}`, interface: '52-54-00-AA-00-02' } });
    t.is(byMac.status, 201, JSON.stringify(byMac.body));
    t.like(byMac.body, { machineId: m.id, interfaceId: m.interfaces[1].id, hostname: `node-${backend}` });
    const again = await h.request({ method: 'POST', url, body: { machine: m.id, interface: 'eth1' } });
    t.is(again.status, 409);
    t.regex(again.body.detail, /interface eth1 of node-.* already has 198\.18\.28\.2/);
    t.is((await h.request({ method: 'POST', url, body: { machine: m.id, interface: 'eth0', hostname: 'node-pxe' } })).body.hostname, 'node-pxe');
    t.is((await h.request({ method: 'POST', url, body: { machine: m.id, interface: 'eth9' } })).status, 404);
    t.deepEqual(fields(await h.request({ method: 'POST', url, body: { interface: 'eth0' } })), ['body/interface']);
    const foreign = await h.request({ method: 'POST', url, body: { machine: `far-${backend}` } });
    t.is(foreign.status, 409);
    t.regex(foreign.body.detail, /is not at site dc-mach-/);
    t.is((await h.request({ url })).body.items.length, 2);
  });

  test(`${backend}: a machine shows its addresses in every network of its site, by network name, with the interface that holds each`, async (t) => {
    const siteId = await site(h, `dc-show-${backend}`);
    const m = await machine(h, siteId, `shown-${backend}`, [
      { name: 'eth0', mac: '52:54:00:ab:00:01', pxe: true },
      { name: 'eth1', mac: '52:54:00:ab:00:02' },
    ]);
    const other = await machine(h, siteId, `neighbour-${backend}`, [{ name: 'eth0', mac: '52:54:00:ab:00:03' }]);
    // Created in the opposite order of their names.
    const zeta = (await create({ site: siteId, name: 'zeta', cidr: '198.18.30.0/24', gateway: '198.18.30.1' })).body;
    const alpha = (await create({ site: siteId, name: 'alpha', cidr: '198.18.31.0/24', gateway: '198.18.31.1' })).body;
    const allocate = (net: { id: string }, body: Record<string, unknown>) => h.request({ method: 'POST', url: `/v1/networks/${net.id}/allocations`, body });
    t.is((await allocate(zeta, { machine: m.id, interface: 'eth0', address: '198.18.30.20' })).status, 201);
    t.is((await allocate(zeta, { machine: m.id, address: '198.18.30.21' })).status, 201);
    t.is((await allocate(alpha, { machine: m.id, interface: 'eth1', address: '198.18.31.9' })).status, 201);
    t.is((await allocate(alpha, { machine: other.id, address: '198.18.31.10' })).status, 201);
    t.is((await allocate(alpha, { address: '198.18.31.11' })).status, 201);
    const expected = [
      { address: '198.18.31.9', network: 'alpha', interface: 'eth1' },
      { address: '198.18.30.20', network: 'zeta', interface: 'eth0' },
      { address: '198.18.30.21', network: 'zeta', interface: null },
    ];
    for (const ref of [m.id, `shown-${backend}`, '52:54:00:ab:00:02']) {
      const shown = await h.request({ url: `/v1/machines/${encodeURIComponent(ref)}` });
      t.is(shown.status, 200, JSON.stringify(shown.body));
      t.deepEqual(shown.body.addresses, expected, `by ${ref}`);
    }
    t.deepEqual((await h.request({ url: `/v1/machines/${other.id}` })).body.addresses, [{ address: '198.18.31.10', network: 'alpha', interface: null }]);
  });

  test.serial(`${backend}: 50 allocations requested at once get 50 distinct addresses; a full network is SPROUT_ERR_NETWORK_EXHAUSTED`, async (t) => {
    await site(h, `dc-busy-${backend}`);
    const net = (await create({ site: `dc-busy-${backend}`, name: 'busy', cidr: '198.18.32.0/24', gateway: '198.18.32.1' })).body;
    const operator = await h.token('operator');
    const made = await Promise.all(
      Array.from({ length: 50 }, () => h.request({ method: 'POST', url: `/v1/networks/${net.id}/allocations`, body: {}, token: operator })),
    );
    t.deepEqual([...new Set(made.map((r) => r.status))], [201]);
    t.is(new Set(made.map((r) => r.body.address)).size, 50);
    t.is((await h.request({ url: `/v1/networks/${net.id}/allocations` })).body.items.length, 50);

    const small = (await create({ site: `dc-busy-${backend}`, name: 'small', cidr: '198.18.33.0/30', gateway: '198.18.33.1' })).body;
    t.is((await h.request({ method: 'POST', url: `/v1/networks/${small.id}/allocations`, body: {} })).body.address, '198.18.33.2');
    const full = await h.request({ method: 'POST', url: `/v1/networks/${small.id}/allocations`, body: {} });
    t.is(full.status, 409);
    t.is(full.body.code, 'SPROUT_ERR_NETWORK_EXHAUSTED');
    t.is((await h.request({ url: `/v1/networks/${small.id}` })).body.utilisation.free, 0);
  });

  test(`${backend}: viewers read networks; creating, allocating and releasing need an operator`, async (t) => {
    await site(h, `dc-roles-${backend}`);
    const viewer = await h.token('viewer');
    const operator = await h.token('operator');
    const denied = await create({ site: `dc-roles-${backend}`, name: 'roles', cidr: '198.18.36.0/24', gateway: '198.18.36.1' }, viewer);
    t.is(denied.status, 403);
    t.regex(denied.body.detail, /network\.create needs operator/);
    const net = await create({ site: `dc-roles-${backend}`, name: 'roles', cidr: '198.18.36.0/24', gateway: '198.18.36.1' }, operator);
    t.is(net.status, 201);
    t.is((await h.request({ url: `/v1/networks/${net.body.id}`, token: viewer })).status, 200);
    t.is((await h.request({ url: `/v1/networks/${net.body.id}/allocations`, token: viewer })).status, 200);
    const allocate = await h.request({ method: 'POST', url: `/v1/networks/${net.body.id}/allocations`, body: {}, token: viewer });
    t.is(allocate.status, 403);
    t.deepEqual((await h.request({ url: `/v1/networks/${net.body.id}/allocations` })).body.items, []);
    const made = await h.request({ method: 'POST', url: `/v1/networks/${net.body.id}/allocations`, body: {}, token: operator });
    t.is((await h.request({ method: 'DELETE', url: `/v1/networks/${net.body.id}/allocations/${made.body.id}`, token: viewer })).status, 403);
  });

  test(`${backend}: ensureMachineAddress uses the site's first PXE network, is idempotent, and releaseMachineAddresses frees it`, async (t) => {
    const siteId = await site(h, `dc-wf-${backend}`);
    const m = await machine(h, siteId, `wf-${backend}`, [{ name: 'eth0', mac: '52:54:00:bb:00:01', pxe: true }]);
    const input = { id: m.id, siteId, hostname: m.hostname, interfaceId: m.interfaces[0].id, mac: '52:54:00:bb:00:01' };
    const db = h.kernel.store.db;
    const none = await t.throwsAsync(db.transaction((trx) => h.kernel.services.networks.ensureMachineAddress(input, trx)));
    t.is((none as any).code, 'SPROUT_ERR_CONFLICT');
    t.regex(none!.message, new RegExp(`site dc-wf-${backend} has no PXE network; create one with \`sprout network create --site dc-wf-${backend} .*--pxe\``));

    await create({ site: siteId, name: 'zz-prov', cidr: '198.18.40.0/24', gateway: '198.18.40.1' });
    await create({ site: siteId, name: 'aa-prov', cidr: '198.18.41.0/24', gateway: '198.18.41.1', domain: 'wf.example', dnsServers: ['198.18.41.53'] });
    await create({ site: siteId, name: '00-storage', cidr: '198.18.42.0/24', gateway: '198.18.42.1', pxe: false });
    const first = await db.transaction((trx) => h.kernel.services.networks.ensureMachineAddress(input, trx));
    t.like(first.network, { name: 'aa-prov', cidr: '198.18.41.0/24', gateway: '198.18.41.1', domain: 'wf.example', dnsServers: ['198.18.41.53'] });
    t.like(first.allocation, { address: '198.18.41.2', machineId: m.id, interfaceId: m.interfaces[0].id, hostname: m.hostname, provider: 'ipam-builtin' });
    const second = await db.transaction((trx) => h.kernel.services.networks.ensureMachineAddress(input, trx));
    t.is(second.allocation.id, first.allocation.id);

    await db.transaction((trx) => h.kernel.services.networks.releaseMachineAddresses(m.id, trx));
    t.deepEqual((await h.request({ url: `/v1/networks/${first.network.id}/allocations` })).body.items, []);
  });

  const patch = (network: string, body: Record<string, unknown>, token?: string) => h.request({ method: 'PATCH', url: `/v1/networks/${network}`, body, token });
  const remove = (network: string, token?: string) => h.request({ method: 'DELETE', url: `/v1/networks/${network}`, token });

  test(`${backend}: updating a network changes what GET shows and the site's desired state, and audits each changed field as old/new`, async (t) => {
    const siteId = await site(h, `dc-upd-${backend}`);
    const net = (
      await create({
        site: siteId,
        name: 'upd',
        cidr: '198.18.44.0/24',
        gateway: '198.18.44.1',
        domain: 'old.example',
        ranges: [{ kind: 'dynamic', start: '198.18.44.100', end: '198.18.44.150' }],
      })
    ).body;
    const revision = await h.kernel.services.siteRevisions.current(siteId);
    const res = await patch(`upd?site=dc-upd-${backend}`, {
      name: 'upd2',
      gateway: '198.18.44.254',
      dnsServers: ['198.18.44.53', '198.18.44.54'],
      domain: 'New.Example',
      pxe: false,
      ranges: [
        { kind: 'reserved', start: '198.18.44.2', end: '198.18.44.9' },
        { kind: 'dynamic', start: '198.18.44.200', end: '198.18.44.220' },
      ],
    });
    t.is(res.status, 200, JSON.stringify(res.body));
    const expected = {
      id: net.id,
      name: 'upd2',
      cidr: '198.18.44.0/24',
      gateway: '198.18.44.254',
      dnsServers: ['198.18.44.53', '198.18.44.54'],
      domain: 'new.example',
      pxe: false,
      ranges: [
        { kind: 'reserved', start: '198.18.44.2', end: '198.18.44.9' },
        { kind: 'dynamic', start: '198.18.44.200', end: '198.18.44.220' },
      ],
    };
    t.like(res.body, expected);
    t.like((await h.request({ url: `/v1/networks/${net.id}` })).body, {
      ...expected,
      utilisation: { total: 254, allocated: 0, dynamic: 21, reserved: 8, free: 224 },
    });
    t.is(await h.kernel.services.siteRevisions.current(siteId), revision + 1, 'the change bumps the site revision');
    t.like((await h.kernel.desiredState(siteId)).networks?.[0], { id: net.id, domain: 'new.example', gateway: '198.18.44.254', pxe: false });

    const audit = await h.request({ url: `/v1/audit?action=network.update&target=${net.id}` });
    t.is(audit.body.items.length, 1);
    t.like(audit.body.items[0], { outcome: 'success', targetType: 'network' });
    t.deepEqual(audit.body.items[0].details.changes, {
      name: { old: 'upd', new: 'upd2' },
      gateway: { old: '198.18.44.1', new: '198.18.44.254' },
      dnsServers: { old: [], new: ['198.18.44.53', '198.18.44.54'] },
      domain: { old: 'old.example', new: 'new.example' },
      pxe: { old: true, new: false },
      ranges: { old: net.ranges, new: expected.ranges },
    });

    // Clearing the domain, and a request that changes nothing, which leaves the revision alone.
    t.is((await patch(net.id, { domain: null })).body.domain, null);
    const now = await h.kernel.services.siteRevisions.current(siteId);
    t.is((await patch(net.id, { pxe: false })).status, 200);
    t.is(await h.kernel.services.siteRevisions.current(siteId), now);

    // Every check of create applies to the result; nothing changes when one fails.
    const invalid = await patch(net.id, { gateway: '198.18.44.205' });
    t.is(invalid.status, 400);
    t.is(invalid.body.code, 'SPROUT_ERR_VALIDATION');
    t.deepEqual(fields(invalid), ['body/gateway']);
    t.regex(invalid.body.errors[0].message, /inside dynamic range 198\.18\.44\.200-198\.18\.44\.220/);
    t.deepEqual(fields(await patch(net.id, { ranges: [{ kind: 'dynamic', start: '198.18.45.1', end: '198.18.45.9' }] })), ['body/ranges/0']);
    t.deepEqual(fields(await patch(net.id, { cidr: '198.18.44.7/24' })), ['body/cidr']);
    t.is((await patch(net.id, {})).status, 400, 'an empty change is refused');
    t.is((await patch(net.id, { site: 'elsewhere' })).status, 400, 'a network does not move between sites');
    await create({ site: siteId, name: 'neighbour', cidr: '198.18.46.0/24', gateway: '198.18.46.1' });
    const overlap = await patch(net.id, { cidr: '198.18.46.0/23', gateway: '198.18.46.254', ranges: [] });
    t.is(overlap.status, 409);
    t.like(overlap.body.errors[0], { field: 'body/cidr', network: { name: 'neighbour' } });
    const taken = await patch(net.id, { name: 'neighbour' });
    t.is(taken.status, 409);
    t.deepEqual(fields(taken), ['body/name']);
    t.like((await h.request({ url: `/v1/networks/${net.id}` })).body, { name: 'upd2', cidr: '198.18.44.0/24', gateway: '198.18.44.254' });
    const failed = await h.request({ url: `/v1/audit?action=network.update&outcome=failed` });
    t.true(failed.body.items.some((r: any) => r.requestId === overlap.body.requestId));

    // Without allocations the CIDR may change.
    const moved = await patch(net.id, { cidr: '198.18.48.0/22', gateway: '198.18.48.1', ranges: [] });
    t.is(moved.status, 200, JSON.stringify(moved.body));
    t.like(moved.body, { cidr: '198.18.48.0/22', gateway: '198.18.48.1', ranges: [] });
  });

  test(`${backend}: an update that would strand allocations is a 409 naming them, and changes nothing`, async (t) => {
    const siteId = await site(h, `dc-strand-${backend}`);
    await machine(h, siteId, `holder-${backend}`, [{ name: 'eth0', mac: '52:54:00:cc:00:01', pxe: true }]);
    const net = (await create({ site: siteId, name: 'strand', cidr: '198.18.52.0/24', gateway: '198.18.52.1' })).body;
    const url = `/v1/networks/${net.id}/allocations`;
    const named = await h.request({ method: 'POST', url, body: { machine: `holder-${backend}`, address: '198.18.52.10' } });
    const anonymous = await h.request({ method: 'POST', url, body: { address: '198.18.52.11' } });
    t.is(named.status, 201);
    t.is(anonymous.status, 201);
    const revision = await h.kernel.services.siteRevisions.current(siteId);

    const cidr = await patch(net.id, { cidr: '198.18.53.0/24', gateway: '198.18.53.1' });
    t.is(cidr.status, 409, JSON.stringify(cidr.body));
    t.is(cidr.body.code, 'SPROUT_ERR_CONFLICT');
    t.regex(
      cidr.body.detail,
      new RegExp(
        `keeps its CIDR 198\\.18\\.52\\.0/24 while addresses are allocated in it: 2 allocation\\(s\\): 198\\.18\\.52\\.10 \\(holder-${backend}\\), 198\\.18\\.52\\.11 \\(allocation ${anonymous.body.id}\\)`,
      ),
    );
    t.like(cidr.body.errors[0], { field: 'body/cidr', count: 2 });
    t.deepEqual(
      cidr.body.errors[0].allocations.map((a: any) => a.address),
      ['198.18.52.10', '198.18.52.11'],
    );

    const range = await patch(net.id, { ranges: [{ kind: 'dynamic', start: '198.18.52.11', end: '198.18.52.50' }] });
    t.is(range.status, 409);
    t.regex(range.body.detail, /new ranges of network strand cover allocated addresses: 1 allocation\(s\): 198\.18\.52\.11 \(allocation /);
    t.like(range.body.errors[0], { field: 'body/ranges', count: 1 });
    const reserved = await patch(net.id, { ranges: [{ kind: 'reserved', start: '198.18.52.2', end: '198.18.52.10' }] });
    t.is(reserved.status, 409);
    t.regex(reserved.body.detail, new RegExp(`198\\.18\\.52\\.10 \\(holder-${backend}\\)`));
    const gateway = await patch(net.id, { gateway: '198.18.52.10' });
    t.is(gateway.status, 409);
    t.like(gateway.body.errors[0], { field: 'body/gateway', count: 1 });

    t.like((await h.request({ url: `/v1/networks/${net.id}` })).body, { cidr: '198.18.52.0/24', gateway: '198.18.52.1', ranges: [] });
    t.is(await h.kernel.services.siteRevisions.current(siteId), revision, 'a refused change bumps nothing');

    // A range beside the allocations is fine; many allocations are named by a sample and counted.
    t.is((await patch(net.id, { ranges: [{ kind: 'dynamic', start: '198.18.52.100', end: '198.18.52.200' }] })).status, 200);
    for (let i = 0; i < 11; i++) t.is((await h.request({ method: 'POST', url, body: {} })).status, 201);
    const many = await patch(net.id, { cidr: '198.18.53.0/24', gateway: '198.18.53.1', ranges: [] });
    t.is(many.status, 409);
    t.regex(many.body.detail, /13 allocation\(s\): .* and 3 more; release them first/);
    t.is(many.body.errors[0].count, 13);
    t.is(many.body.errors[0].allocations.length, 10);
  });

  test(`${backend}: deleting a network is refused while it has allocations, naming them; then it is deleted and the site can go`, async (t) => {
    const siteId = await site(h, `dc-del-${backend}`);
    const m = await machine(h, siteId, `del-${backend}`, [{ name: 'eth0', mac: '52:54:00:dd:00:01', pxe: true }]);
    const net = (await create({ site: siteId, name: 'del', cidr: '198.18.56.0/24', gateway: '198.18.56.1', domain: 'del.example' })).body;
    await create({ site: siteId, name: 'del-b', cidr: '198.18.57.0/24', gateway: '198.18.57.1' });
    const made = await h.request({ method: 'POST', url: `/v1/networks/${net.id}/allocations`, body: { machine: m.id } });
    t.is(made.status, 201);
    await h.kernel.store.db('discovered_macs').insert({ site_id: siteId, mac: '52:54:00:dd:00:99', network_id: net.id, offered: '198.18.56.150' });

    const refused = await remove(`del?site=dc-del-${backend}`);
    t.is(refused.status, 409);
    t.is(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
    t.is(refused.body.code, 'SPROUT_ERR_CONFLICT');
    t.regex(
      refused.body.detail,
      new RegExp(
        `network del at site dc-del-${backend} still has allocated addresses: 1 allocation\\(s\\): 198\\.18\\.56\\.2 \\(del-${backend}\\); release them first`,
      ),
    );
    t.like(refused.body.errors[0], { field: 'network', count: 1, allocations: [{ address: '198.18.56.2', hostname: `del-${backend}`, machineId: m.id }] });
    t.is((await h.request({ url: `/v1/networks/${net.id}` })).status, 200);
    const denied = await h.request({ url: `/v1/audit?action=network.delete&outcome=failed` });
    t.true(denied.body.items.some((r: any) => r.requestId === refused.body.requestId && /SPROUT_ERR_CONFLICT/.test(r.details.error)));

    const siteRefused = await h.request({ method: 'DELETE', url: `/v1/sites/${siteId}` });
    t.is(siteRefused.status, 409);
    t.regex(
      siteRefused.body.detail,
      /2 network\(s\) \(del 198\.18\.56\.0\/24, del-b 198\.18\.57\.0\/24\); delete them first \(sprout network delete <network> --site dc-del-/,
    );

    t.is((await h.request({ method: 'DELETE', url: `/v1/networks/${net.id}/allocations/${made.body.id}` })).status, 200);
    const revision = await h.kernel.services.siteRevisions.current(siteId);
    const gone = await remove(net.id);
    t.is(gone.status, 204, JSON.stringify(gone.body));
    t.is(await h.kernel.services.siteRevisions.current(siteId), revision + 1);
    t.deepEqual(
      (await h.kernel.desiredState(siteId)).networks?.map((n) => n.name),
      ['del-b'],
    );
    const missing = await h.request({ url: `/v1/networks/${net.id}` });
    t.is(missing.status, 404);
    t.is((await h.kernel.store.db('discovered_macs').where({ site_id: siteId }).first()).network_id, null, 'a discovered MAC forgets the deleted network');
    const audit = await h.request({ url: `/v1/audit?action=network.delete&target=${net.id}&outcome=success` });
    t.is(audit.body.items.length, 1);
    t.like(audit.body.items[0].details, { name: 'del', cidr: '198.18.56.0/24', domain: 'del.example', site: { name: `dc-del-${backend}` } });

    t.is((await remove(`del-b?site=${siteId}`)).status, 204);
    await h.kernel.store.db('discovered_macs').where({ site_id: siteId }).delete();
    await h.kernel.store.db('interfaces').where({ machine_id: m.id }).delete();
    await h.kernel.store.db('machines').where({ id: m.id }).delete();
    t.is((await h.request({ method: 'DELETE', url: `/v1/sites/${siteId}` })).status, 204);
  });

  test(`${backend}: updating or deleting an unknown network is a 404 problem naming it; viewers may do neither`, async (t) => {
    for (const res of [await patch('no-such-net', { pxe: false }), await remove('no-such-net'), await remove(randomUUID())]) {
      t.is(res.status, 404);
      t.is(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      t.is(res.body.code, 'SPROUT_ERR_NOT_FOUND');
      t.regex(res.body.detail, /no network "/);
    }
    await site(h, `dc-perm-${backend}`);
    const net = (await create({ site: `dc-perm-${backend}`, name: 'perm', cidr: '198.18.60.0/24', gateway: '198.18.60.1' })).body;
    const viewer = await h.token('viewer');
    const patched = await patch(net.id, { pxe: false }, viewer);
    t.is(patched.status, 403);
    t.regex(patched.body.detail, /network\.update needs operator/);
    t.is((await remove(net.id, viewer)).status, 403);
    t.like((await h.request({ url: `/v1/networks/${net.id}` })).body, { pxe: true });
    const denials = await h.request({ url: `/v1/audit?target=${net.id}&outcome=denied` });
    t.deepEqual(denials.body.items.map((r: any) => r.action).sort(), ['network.delete', 'network.update']);
  });

  test(`${backend}: OpenAPI documents the network routes`, async (t) => {
    const spec = (await h.request({ url: '/openapi.json', token: null })).body;
    for (const path of ['/v1/networks', '/v1/networks/{id}', '/v1/networks/{id}/allocations', '/v1/networks/{id}/allocations/{allocationId}'])
      t.truthy(spec.paths[path], path);
    t.truthy(spec.paths['/v1/networks'].post.requestBody);
    t.truthy(spec.paths['/v1/networks/{id}'].get.responses['200']);
  });
}

test('pglite: the routes go through whichever IPAM provider config selects', async (t) => {
  const h = await startHarness('pglite', {
    yaml: 'capabilities:\n  ipam: { use: netbox-stub }\nplugins:\n  netbox-stub: { url: "https://netbox.example", token: "nb-token" }\n',
  });
  t.teardown(() => h.stop());
  await site(h, 'dc-netbox');
  const net = await h.request({ method: 'POST', url: '/v1/networks', body: { site: 'dc-netbox', name: 'nb', cidr: '198.18.0.0/24', gateway: '198.18.0.1' } });
  t.is(net.status, 201, 'the network model stays in the kernel');
  const made = await h.request({ method: 'POST', url: `/v1/networks/${net.body.id}/allocations`, body: {} });
  // netbox-stub asks NetBox only for networks it maps to a NetBox prefix: this one is not
  t.is(made.body.code, 'SPROUT_ERR_CONFIG');
  t.regex(made.body.detail, /198\.18\.0\.0\/24.*plugins\.netbox-stub\.prefixes/);
  const audit = await h.request({ url: '/v1/audit?action=ip.allocate&outcome=failed' });
  t.regex(audit.body.items[0].details.error, /netbox-stub/);
});
