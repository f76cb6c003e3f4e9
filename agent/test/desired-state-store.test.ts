/**
 * The agent's desired-state store: a document replaces the whole state, only a newer
 * revision does, and a machine that reported its install complete boots its disk —
 * across a restart too — until the control plane's own word about it arrives.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SiteDesiredStateDocument } from '@sprout/kernel';
import { DesiredStateStore } from '../src/desired-state-store.ts';

const siteId = randomUUID();
const machineId = randomUUID();
const workflow = randomUUID();

function dataDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-state-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function doc(revision: number, intent: 'commission' | 'deploy' | 'local' | null, hostname = 'node-1'): SiteDesiredStateDocument {
  return {
    revision,
    site: { id: siteId, name: 'lab' },
    networks: [],
    reservations: [{ siteId, networkId: randomUUID(), mac: '52:54:00:00:00:01', address: '198.18.0.10', hostname, netboot: true }],
    bootIntents: intent
      ? [
          {
            machineId,
            hostname,
            arch: 'x86_64',
            bootMode: 'bios',
            intent,
            params: intent === 'deploy' ? { image: 'debian-12' } : {},
            workflow,
            mac: '52:54:00:00:00:01',
          },
        ]
      : [],
    dnsRecords: [{ siteId, zone: 'lab.example', name: `${hostname}.lab.example`, type: 'A', value: '198.18.0.10' }],
  };
}

test('a document replaces the whole state, and an older revision arriving late is ignored', (t) => {
  const dir = dataDir(t);
  const store = new DesiredStateStore(dir);
  t.is(store.revision, null);
  t.true(store.apply(doc(3, 'commission', 'node-1')));
  t.true(store.apply(doc(5, null, 'node-2')));
  t.false(store.apply(doc(4, 'commission', 'node-1')), 'revision 4 after 5 changes nothing');
  t.false(store.apply(doc(5, 'commission', 'node-1')), 'nor does the same revision again');
  t.is(store.revision, 5);
  t.deepEqual(store.get().bootIntents, []);
  t.deepEqual(
    store.get().dnsRecords!.map((r) => r.name),
    ['node-2.lab.example'],
  );
  store.flush();
  t.is(statSync(join(dir, 'desired-state.json')).mode & 0o777, 0o600);
  const restarted = new DesiredStateStore(dir);
  t.is(restarted.revision, 5, 'the revision survives a restart');
  t.deepEqual(
    restarted.get().dnsRecords!.map((r) => r.name),
    ['node-2.lab.example'],
  );
});

test('a machine that installed boots its disk, across a restart, until the control plane says otherwise', (t) => {
  const dir = dataDir(t);
  const store = new DesiredStateStore(dir);
  store.apply(doc(7, 'deploy'));
  t.is(store.get().bootIntents![0].intent, 'deploy');
  store.markInstalled(machineId, workflow);
  t.is(store.get().bootIntents![0].intent, 'local');
  // The agent restarts between install-complete and the machine's reboot.
  const restarted = new DesiredStateStore(dir);
  t.is(restarted.get().bootIntents![0].intent, 'local', 'a restarted agent still sends the machine to its disk');
  // A later document still saying "deploy" for that workflow (the control plane has not recorded it yet) does not undo it.
  restarted.apply(doc(8, 'deploy'));
  t.is(restarted.get().bootIntents![0].intent, 'local');
  // Once the control plane says anything else, its word stands.
  restarted.apply(doc(9, 'commission'));
  t.is(restarted.get().bootIntents![0].intent, 'commission');
  restarted.apply(doc(10, 'deploy'));
  t.is(restarted.get().bootIntents![0].intent, 'deploy', 'a new deploy of the machine installs again');
  restarted.flush();
});
