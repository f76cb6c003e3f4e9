/**
 * What agents report about their site reaches operators: MACs nobody registered (not
 * silently ignored) and DHCP leases, once per report even when a report comes twice.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { backends, startHarness } from '../helpers/harness.ts';
import { createMachine } from '../helpers/control-plane.ts';

for (const backend of backends) {
  test(`${backend}: unknown MACs and leases reported by the agent are listed for the site`, async (t) => {
    const h = await startHarness(backend);
    t.teardown(() => h.stop());
    const site = (await h.request({ method: 'POST', url: '/v1/sites', body: { name: 'obs' } })).body.site;
    const agentId = randomUUID();
    await h.kernel.store.db('agents').insert({ id: agentId, site_id: site.id, hostname: 'a', credential_hash: randomUUID().replace(/-/g, '') });
    const machine = await createMachine(h, 'obs', 'known-1');
    const report = (sequence: number, kind: string, payload: Record<string, unknown>) =>
      h.kernel.reports.apply({ agentId, siteId: site.id, sequence, kind, at: new Date().toISOString(), payload });
    await report(1, 'dhcp.unknown-mac', { mac: 'de:ad:be:ef:00:01', networkId: null, offered: '198.18.70.200' });
    await report(2, 'dhcp.unknown-mac', { mac: 'de:ad:be:ef:00:01', networkId: null, offered: '198.18.70.201' });
    t.is(await report(2, 'dhcp.unknown-mac', { mac: 'de:ad:be:ef:00:01' }), 'duplicate');
    await report(3, 'dhcp.lease', { mac: machine.interfaces[0].mac, address: '198.18.70.10', state: 'bound', expiresAt: new Date(Date.now() + 300_000).toISOString() });

    const discovered = await h.request({ url: '/v1/sites/obs/discovered-macs' });
    t.is(discovered.status, 200);
    t.like(discovered.body.items[0], { mac: 'de:ad:be:ef:00:01', offered: '198.18.70.201', timesSeen: 2 });
    const leases = await h.request({ url: '/v1/sites/obs/leases' });
    t.like(leases.body.items[0], { mac: machine.interfaces[0].mac, address: '198.18.70.10', state: 'bound', machine: 'known-1' });
    t.is((await h.request({ url: '/v1/sites/nowhere/leases' })).status, 404);
  });

  test(`${backend}: a batch of reports applies in order and once, and a batch that fails changes nothing`, async (t) => {
    const h = await startHarness(backend);
    t.teardown(() => h.stop());
    const site = (await h.request({ method: 'POST', url: '/v1/sites', body: { name: 'obs' } })).body.site;
    const agentId = randomUUID();
    await h.kernel.store.db('agents').insert({ id: agentId, site_id: site.id, hostname: 'a', credential_hash: randomUUID().replace(/-/g, '') });
    const report = (sequence: number, offered: string | null) => ({ agentId, siteId: site.id, sequence, kind: 'dhcp.unknown-mac', at: new Date().toISOString(), payload: { mac: 'de:ad:be:ef:00:02', networkId: null, offered } });
    await h.kernel.reports.applyMany([report(1, '198.18.70.201'), report(2, '198.18.70.202'), report(2, '198.18.70.209')]);
    // 3 applies, then 4 fails (a MAC longer than the column): neither is kept, and 3 comes again with the retry.
    await t.throwsAsync(() => h.kernel.reports.applyMany([report(3, '198.18.70.203'), { ...report(4, null), payload: { mac: 'de:ad:be:ef:00:02:'.repeat(4), networkId: null } }]));
    t.like((await h.request({ url: '/v1/sites/obs/discovered-macs' })).body.items[0], { offered: '198.18.70.202', timesSeen: 2 }, 'the failed batch left nothing behind');
    await h.kernel.reports.applyMany([report(1, '198.18.70.250'), report(3, '198.18.70.203')]);
    const discovered = await h.request({ url: '/v1/sites/obs/discovered-macs' });
    t.like(discovered.body.items[0], { mac: 'de:ad:be:ef:00:02', offered: '198.18.70.203', timesSeen: 3 });
    t.is(Number((await h.kernel.store.db('agents').where({ id: agentId }).first()).last_report_sequence), 3);
  });
}
