/**
 * The agent's desired state: a whole state replaces what it held; a machine's part
 * replaces only that machine's entries (and the networks), and survives a restart.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DesiredStateStore } from '../src/desired-state-store.ts';

const site = { id: 's', name: 'fra1' };
const network = (name: string) => ({ id: name, name, cidr: '198.18.0.0/24' });
const machine = (n: number, intent: string, address = `198.18.0.${n}`) => ({
  bootIntents: [{ machineId: `m${n}`, hostname: `node${n}`, intent, mac: `02:00:00:00:00:0${n}` }],
  reservations: [{ siteId: 's', networkId: 'prov', mac: `02:00:00:00:00:0${n}`, address }],
  dnsRecords: [
    { siteId: 's', zone: 'lab.test', name: `node${n}.lab.test`, type: 'A', value: address },
    { siteId: 's', zone: '0.18.198.in-addr.arpa', name: `${address.split('.').reverse().join('.')}.in-addr.arpa`, type: 'PTR', value: `node${n}.lab.test` },
  ],
});
const scope = (n: number) => ({ machineId: `m${n}`, hostname: `node${n}`, macs: [`02:00:00:00:00:0${n}`] });

test('the states of one turn reach the services once, and the disk by its end', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-state-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new DesiredStateStore(dir);
  const seen: unknown[] = [];
  store.onChange((state) => seen.push(state.bootIntents));
  store.apply({ site, networks: [], ...machine(1, 'commission') });
  store.apply({ scope: scope(2), site, networks: [], ...machine(2, 'commission') });
  t.deepEqual(seen, []);
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(seen, [[...machine(1, 'commission').bootIntents, ...machine(2, 'commission').bootIntents]]);
  t.deepEqual(new DesiredStateStore(dir).get().bootIntents, seen[0]);
});

test('a machine’s part replaces that machine’s entries and keeps the others; a whole state replaces all', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-state-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new DesiredStateStore(dir);
  const [one, two] = [machine(1, 'commission'), machine(2, 'commission')];
  store.apply({ site, networks: [network('prov')], bootIntents: [...one.bootIntents, ...two.bootIntents], reservations: [...one.reservations, ...two.reservations], dnsRecords: [...one.dnsRecords, ...two.dnsRecords] });

  const moved = machine(2, 'deploy', '198.18.0.9');
  const held = store.apply({ scope: scope(2), site, networks: [network('prov'), network('oob')], ...moved });
  t.deepEqual(held.bootIntents, [...one.bootIntents, ...moved.bootIntents]);
  t.deepEqual(held.reservations, [...one.reservations, ...moved.reservations]);
  t.deepEqual(held.dnsRecords, [...one.dnsRecords, ...moved.dnsRecords], 'the old PTR of the moved machine is gone');
  t.deepEqual(held.networks, [network('prov'), network('oob')]);
  t.false('scope' in held);

  store.apply({ scope: scope(1), site, networks: [network('prov')], bootIntents: [], reservations: one.reservations, dnsRecords: one.dnsRecords });
  store.flush();
  t.deepEqual(new DesiredStateStore(dir).get().bootIntents, moved.bootIntents, 'a cleared intent is gone, also after a restart');

  store.apply({ site, networks: [], bootIntents: [], reservations: [], dnsRecords: [] });
  t.deepEqual(store.get().reservations, []);
  store.flush();
});
