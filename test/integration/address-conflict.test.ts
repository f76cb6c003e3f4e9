/**
 * A machine whose reserved address the agent will not hand out, because another machine
 * still holds a lease on it, does not wait for its watchdog: the step waiting for it
 * fails at once with a reason that names both machines, and the audit record says so
 * (outcome `failed`, not `success`).
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { backends, startHarness } from '@sprout/test-support/harness.ts';
import { createMachine, finishSiteStep, siteWithNetwork, waitForWorkflow } from '@sprout/test-support/control-plane.ts';

for (const backend of backends) {
  test(`${backend}: a reserved address still leased to another machine fails the waiting step, naming both machines`, async (t) => {
    const h = await startHarness(backend);
    t.teardown(() => h.stop());
    const { site } = await siteWithNetwork(h, 'conflict', 80);
    const agentId = randomUUID();
    await h.kernel.store.db('agents').insert({ id: agentId, site_id: site.id, hostname: 'a', credential_hash: randomUUID().replace(/-/g, '') });
    const wanting = await createMachine(h, 'conflict', 'wants-1');
    const holder = await createMachine(h, 'conflict', 'holds-1');
    const started = await h.request({ method: 'POST', url: `/v1/machines/${wanting.id}/commission`, body: { hwtest: false } });
    t.is(started.status, 202);
    // No agent runs here: its answer to check-bmc is played, so the control steps allocate the address.
    t.is(await finishSiteStep(h, started.body.id, { ok: true, result: { driver: 'manual', state: 'unknown' } }), 'check-bmc');
    const wf = await waitForWorkflow(h, started.body.id, (w) => w.steps.some((s: any) => s.name === 'power-on' && s.state === 'dispatched'));
    const address = wf.steps.find((s: any) => s.name === 'allocate-ip').result.address;

    await h.kernel.services.reports.apply({
      agentId,
      siteId: site.id,
      sequence: 1,
      kind: 'dhcp.address-conflict',
      at: new Date().toISOString(),
      payload: { mac: wanting.interfaces[0].mac, networkId: null, address, heldBy: holder.interfaces[0].mac },
    });

    const failed = await waitForWorkflow(h, started.body.id, (w) => w.state === 'failed');
    t.regex(failed.error, new RegExp(`address ${address.replace(/\./g, '\\.')} reserved for machine wants-1 is still leased to machine holds-1`));
    const machine = (await h.request({ url: `/v1/machines/${wanting.id}` })).body;
    t.is(machine.status, 'failed_commissioning');
    t.regex(machine.statusReason.message, /still leased to machine holds-1/);
    const audit = (await h.request({ url: '/v1/audit?action=agent.dhcp.address-conflict' })).body.items;
    t.is(audit.length, 1);
    t.is(audit[0].outcome, 'failed');
    t.is(audit[0].details.heldByMachine, 'holds-1');
  });
}
