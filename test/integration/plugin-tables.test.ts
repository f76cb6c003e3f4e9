/**
 * Plugins own their tables: the builtin DHCP, DNS and IPAM tables hold no foreign key on
 * the kernel's tables, and deleting a machine, a network or a site through the API
 * leaves none of their rows naming it behind — the plugins drop them in the kernel's
 * `*Removing` hooks, in the deleting transaction. Rows are planted through the providers
 * themselves, including ones the kernel's own clean-up (releasing a machine's addresses
 * in its site) would not find, so only the hooks can remove them.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { dhcpCapability, dnsCapability, ipamCapability, type IpamNetwork } from '@sprout/kernel';
import { backends, startHarness, type Harness } from '@sprout/test-support/harness.ts';

const pluginTables = ['dhcp_reservations', 'dns_records', 'ip_allocations'];

for (const backend of backends) {
  let h: Harness;
  test.before(async () => {
    h = await startHarness(backend);
  });
  test.after.always(async () => {
    await h?.stop();
  });

  const db = () => h.kernel.store.db;
  const count = async (table: string, where: Record<string, string>) =>
    Number((await db()(table).where(where).count<{ n: number }[]>('* as n').first())?.n ?? 0);
  const ok = <T extends { status: number; body: any }>(res: T, status: number): T => {
    if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
    return res;
  };
  const newSite = async (name: string) => ok(await h.request({ method: 'POST', url: '/v1/sites', body: { name } }), 201).body.site.id as string;
  const newNetwork = async (site: string, name: string, cidr: string, gateway: string) =>
    ok(await h.request({ method: 'POST', url: '/v1/networks', body: { site, name, cidr, gateway } }), 201).body as {
      id: string;
      cidr: string;
      gateway: string;
    };
  const ipamNetwork = (n: { id: string; cidr: string; gateway: string }, siteId: string): IpamNetwork => ({
    id: n.id,
    siteId,
    cidr: n.cidr,
    gateway: n.gateway,
    ranges: [],
  });

  test.serial(`${backend}: no plugin table holds a foreign key on a kernel table`, async (t) => {
    const { rows } = await db().raw(
      `select conrelid::regclass::text as tbl, confrelid::regclass::text as ref from pg_constraint
       where contype = 'f' and conrelid in (${pluginTables.map(() => 'to_regclass(?)').join(', ')})`,
      pluginTables,
    );
    t.deepEqual(rows, []);
    // The tables are there: the query above looked at real relations.
    for (const table of pluginTables) t.true(await db().schema.hasTable(table), table);
  });

  test.serial(`${backend}: deleting a machine leaves no allocation naming it, even one outside its site's networks`, async (t) => {
    const siteA = await newSite(`tables-m-a-${backend}`);
    const siteB = await newSite(`tables-m-b-${backend}`);
    const netA = await newNetwork(siteA, 'prov', '198.18.60.0/24', '198.18.60.1');
    const netB = await newNetwork(siteB, 'prov', '198.18.61.0/24', '198.18.61.1');
    const machine = ok(
      await h.request({
        method: 'POST',
        url: '/v1/machines',
        body: { site: siteA, hostname: 'gone', arch: 'x86_64', bootMode: 'uefi', interfaces: [{ name: 'eth0', mac: '52:54:00:60:00:01', pxe: true }] },
      }),
      201,
    ).body;
    ok(await h.request({ method: 'POST', url: `/v1/networks/${netA.id}/allocations`, body: { machine: machine.id, interface: 'eth0' } }), 201);
    // An allocation the release of the machine's addresses (its own site's networks) does not see.
    const ipam = await h.kernel.capability(ipamCapability);
    await ipam.allocateAddress({ network: ipamNetwork(netB, siteB), machineId: machine.id, interfaceId: machine.interfaces[0].id, hostname: 'gone' });
    t.is(await count('ip_allocations', { machine_id: machine.id }), 2);

    ok(await h.request({ method: 'DELETE', url: `/v1/machines/${machine.id}` }), 204);
    t.is(await count('ip_allocations', { machine_id: machine.id }), 0);
    t.is(await count('ip_allocations', { interface_id: machine.interfaces[0].id }), 0);
    t.is(await count('machines', { id: machine.id }), 0);
  });

  test.serial(`${backend}: deleting a network leaves no DHCP reservation in it`, async (t) => {
    const siteId = await newSite(`tables-n-${backend}`);
    const net = await newNetwork(siteId, 'prov', '198.18.62.0/24', '198.18.62.1');
    const keep = await newNetwork(siteId, 'other', '198.18.63.0/24', '198.18.63.1');
    const dhcp = await h.kernel.capability(dhcpCapability);
    await dhcp.reserve({ siteId, networkId: net.id, mac: '52:54:00:62:00:01', address: '198.18.62.10', hostname: 'a', netboot: true });
    await dhcp.reserve({ siteId, networkId: keep.id, mac: '52:54:00:63:00:01', address: '198.18.63.10', hostname: 'b', netboot: true });

    ok(await h.request({ method: 'DELETE', url: `/v1/networks/${net.id}` }), 204);
    t.is(await count('dhcp_reservations', { network_id: net.id }), 0);
    t.is(await count('dhcp_reservations', { network_id: keep.id }), 1, "another network's reservation stays");
  });

  test.serial(`${backend}: deleting a site leaves no DNS record or DHCP reservation of it`, async (t) => {
    const siteId = await newSite(`tables-s-${backend}`);
    const other = await newSite(`tables-s-other-${backend}`);
    const dns = await h.kernel.capability(dnsCapability);
    await dns.upsertRecords([
      { siteId, zone: 'lab.example', name: 'a.lab.example', type: 'A', value: '198.18.64.10' },
      { siteId: other, zone: 'lab.example', name: 'b.lab.example', type: 'A', value: '198.18.65.10' },
    ]);
    // A reservation naming the site (its network id is only an id: no foreign key checks it).
    await (await h.kernel.capability(dhcpCapability)).reserve({
      siteId,
      networkId: randomUUID(),
      mac: '52:54:00:64:00:01',
      address: '198.18.64.10',
      netboot: false,
    });

    ok(await h.request({ method: 'DELETE', url: `/v1/sites/${siteId}` }), 204);
    t.is(await count('dns_records', { site_id: siteId }), 0);
    t.is(await count('dhcp_reservations', { site_id: siteId }), 0);
    t.is(await count('dns_records', { site_id: other }), 1, "another site's record stays");
  });
}
