/**
 * What agents report about their site reaches operators: MACs nobody registered (not
 * silently ignored) and DHCP leases, once per report even when a report comes twice.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { backends, startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { createMachine } from '@sprout/test-support/control-plane.ts';
import { maxApplyAttempts } from '../../kernel/src/domain/agents/report-applier.ts';

/** Makes the database refuse to record `offered` for a discovered MAC: a report that fails when applied. */
async function refuseOffer(h: Harness, offered: string): Promise<void> {
  await h.kernel.store.db.raw(
    `create or replace function refuse_offer() returns trigger language plpgsql as $$ begin if new.offered = '${offered}' then raise exception 'the test refuses %', new.offered; end if; return new; end $$`,
  );
  await h.kernel.store.db.raw('create trigger refuse_offer before insert or update on discovered_macs for each row execute function refuse_offer()');
}

async function agentOf(h: Harness, name: string): Promise<{ site: any; agentId: string }> {
  const site = (await h.request({ method: 'POST', url: '/v1/sites', body: { name } })).body.site;
  const agentId = randomUUID();
  await h.kernel.store.db('agents').insert({ id: agentId, site_id: site.id, hostname: 'a', credential_hash: randomUUID().replace(/-/g, '') });
  return { site, agentId };
}

for (const backend of backends) {
  test(`${backend}: unknown MACs and leases reported by the agent are listed for the site`, async (t) => {
    const h = await startHarness(backend);
    t.teardown(() => h.stop());
    const site = (await h.request({ method: 'POST', url: '/v1/sites', body: { name: 'obs' } })).body.site;
    const agentId = randomUUID();
    await h.kernel.store.db('agents').insert({ id: agentId, site_id: site.id, hostname: 'a', credential_hash: randomUUID().replace(/-/g, '') });
    const machine = await createMachine(h, 'obs', 'known-1');
    const report = (sequence: number, kind: string, payload: Record<string, unknown>) =>
      h.kernel.services.reports.apply({ agentId, siteId: site.id, sequence, kind, at: new Date().toISOString(), payload });
    await report(1, 'dhcp.unknown-mac', { mac: 'de:ad:be:ef:00:01', networkId: null, offered: '198.18.70.200' });
    await report(2, 'dhcp.unknown-mac', { mac: 'de:ad:be:ef:00:01', networkId: null, offered: '198.18.70.201' });
    t.is(await report(2, 'dhcp.unknown-mac', { mac: 'de:ad:be:ef:00:01' }), 'duplicate');
    await report(3, 'dhcp.lease', {
      mac: machine.interfaces[0].mac,
      address: '198.18.70.10',
      state: 'bound',
      expiresAt: new Date(Date.now() + 300_000).toISOString(),
    });

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
    const report = (sequence: number, offered: string | null) => ({
      agentId,
      siteId: site.id,
      sequence,
      kind: 'dhcp.unknown-mac',
      at: new Date().toISOString(),
      payload: { mac: 'de:ad:be:ef:00:02', networkId: null, offered },
    });
    await h.kernel.services.reports.applyMany([report(1, '198.18.70.201'), report(2, '198.18.70.202'), report(2, '198.18.70.209')]);
    // 3 applies, then 4 fails (the database refuses it): neither is kept, and 3 comes again with the retry.
    await refuseOffer(h, '198.18.70.204');
    await t.throwsAsync(() => h.kernel.services.reports.applyMany([report(3, '198.18.70.203'), report(4, '198.18.70.204')]));
    t.like(
      (await h.request({ url: '/v1/sites/obs/discovered-macs' })).body.items[0],
      { offered: '198.18.70.202', timesSeen: 2 },
      'the failed batch left nothing behind',
    );
    await h.kernel.services.reports.applyMany([report(1, '198.18.70.250'), report(3, '198.18.70.203')]);
    const discovered = await h.request({ url: '/v1/sites/obs/discovered-macs' });
    t.like(discovered.body.items[0], { mac: 'de:ad:be:ef:00:02', offered: '198.18.70.203', timesSeen: 3 });
    t.is(Number((await h.kernel.store.db('agents').where({ id: agentId }).first()).last_report_sequence), 3);
  });

  test(`${backend}: a malformed report is set aside with its reason, and the agent's later reports flow on`, async (t) => {
    const h = await startHarness(backend);
    t.teardown(() => h.stop());
    const { site, agentId } = await agentOf(h, 'obs');
    const at = new Date().toISOString();
    const outcomes = await h.kernel.services.reports.applyMany([
      {
        agentId,
        siteId: site.id,
        sequence: 1,
        kind: 'dhcp.lease',
        at,
        payload: { mac: '52:54:00:00:00:01', address: '198.18.70.10', state: 'bound', expiresAt: 'not-a-date' },
      },
      { agentId, siteId: site.id, sequence: 2, kind: 'dhcp.unknown-mac', at, payload: { mac: 'de:ad:be:ef:00:03', networkId: null, offered: null } },
    ]);
    t.deepEqual(outcomes, ['dead-lettered', 'applied']);
    const [dead] = await h.kernel.store.db('report_dead_letters').where({ agent_id: agentId });
    t.is(Number(dead.sequence), 1);
    t.regex(dead.reason, /\/payload\/expiresAt must match format "date-time"/);
    t.is((await h.request({ url: '/v1/sites/obs/leases' })).body.items.length, 0, 'nothing of the malformed report was applied');
    t.is((await h.request({ url: '/v1/sites/obs/discovered-macs' })).body.items.length, 1, 'the next report was');
    const shown = (await h.request({ url: '/v1/sites/obs' })).body.agents[0].reports;
    t.like(shown, { refused: 0, deadLettered: 1 });
    t.regex(shown.lastProblem, /expiresAt/);
    const audit = await h.request({ url: '/v1/audit?action=agent.report.dead-lettered' });
    t.is(audit.body.items.length, 1);
    t.is(audit.body.items[0].outcome, 'failed');
    // Sent again (a redelivery), it is not set aside twice.
    t.deepEqual(
      await h.kernel.services.reports.applyMany([{ agentId, siteId: site.id, sequence: 1, kind: 'dhcp.lease', at, payload: { expiresAt: 'not-a-date' } }]),
      ['duplicate'],
    );
  });

  test(`${backend}: a report that keeps failing when applied is set aside after ${maxApplyAttempts} tries, and the rest flow on`, async (t) => {
    const h = await startHarness(backend);
    t.teardown(() => h.stop());
    const { site, agentId } = await agentOf(h, 'obs');
    await refuseOffer(h, '198.18.70.204');
    const report = (sequence: number, offered: string) => ({
      agentId,
      siteId: site.id,
      sequence,
      kind: 'dhcp.unknown-mac',
      at: new Date().toISOString(),
      payload: { mac: 'de:ad:be:ef:00:04', networkId: null, offered },
    });
    for (let i = 1; i < maxApplyAttempts; i++)
      await t.throwsAsync(() => h.kernel.services.reports.applyMany([report(1, '198.18.70.204')]), { message: /the test refuses/ });
    t.deepEqual(await h.kernel.services.reports.applyMany([report(1, '198.18.70.204')]), ['dead-lettered']);
    const [dead] = await h.kernel.store.db('report_dead_letters').where({ agent_id: agentId });
    t.regex(dead.reason, new RegExp(`failed ${maxApplyAttempts} times when applied: .*the test refuses 198.18.70.204`));
    t.deepEqual(await h.kernel.services.reports.applyMany([report(2, '198.18.70.205')]), ['applied']);
    t.like((await h.request({ url: '/v1/sites/obs/discovered-macs' })).body.items[0], { offered: '198.18.70.205', timesSeen: 1 });
  });
}
