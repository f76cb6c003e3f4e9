/**
 * A released machine's address is not handed to the next machine while its lease may
 * still be live at the site's agent (the control plane's copy in `dhcp_leases`, written
 * by `dhcp.lease` reports): the next machine gets another address, the machine holding
 * the lease may have its own address back, and once the lease has expired the address
 * is free again. On both stores.
 */
import test from 'ava';
import { backends, startHarness } from '@sprout/test-support/harness.ts';
import { createMachine, siteWithNetwork } from '@sprout/test-support/control-plane.ts';

for (const backend of backends) {
  test(`${backend}: an address with a live lease of another MAC is skipped by automatic allocation`, async (t) => {
    const h = await startHarness(backend);
    t.teardown(() => h.stop());
    const { site } = await siteWithNetwork(h, 'rel', 67);
    const network = 'rel-prov';
    const a = await createMachine(h, 'rel', 'old-01');
    const b = await createMachine(h, 'rel', 'new-01');
    const c = await createMachine(h, 'rel', 'later-01');
    const allocate = async (machine: string) => {
      const res = await h.request({ method: 'POST', url: `/v1/networks/${network}/allocations?site=rel`, body: { machine } });
      if (res.status !== 201) throw new Error(JSON.stringify(res.body));
      return res.body;
    };
    const release = (id: string) => h.request({ method: 'DELETE', url: `/v1/networks/${network}/allocations/${id}?site=rel` });

    const first = await allocate('old-01');
    t.is(first.address, '198.18.67.10');
    // The agent leased it to old-01 for an hour; then old-01 is released.
    await h.kernel.store
      .db('dhcp_leases')
      .insert({ site_id: site.id, mac: a.interfaces[0].mac, address: '198.18.67.10', state: 'bound', expires_at: new Date(Date.now() + 3_600_000) });
    t.is((await release(first.id)).status, 200);

    const next = await allocate('new-01');
    t.is(next.address, '198.18.67.11', 'the next machine does not get an address still leased to another MAC');
    const back = await allocate('old-01');
    t.is(back.address, '198.18.67.10', 'the machine holding the lease may have its own address again');
    await release(back.id);

    await h.kernel.store
      .db('dhcp_leases')
      .where({ site_id: site.id, mac: a.interfaces[0].mac })
      .update({ expires_at: new Date(Date.now() - 1000) });
    t.is((await allocate('later-01')).address, '198.18.67.10', 'an expired lease frees the address');
    t.truthy(b && c);
  });
}
