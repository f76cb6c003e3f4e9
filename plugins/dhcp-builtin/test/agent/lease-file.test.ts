/** The lease file: a snapshot, then a journal of changes replayed in order; a torn last line is a crash mid-append. */
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { LeaseFile } from '../../src/agent/lease-file.ts';
import type { Lease } from '../../src/agent/lease-table.ts';

const lease = (mac: string, address: string): Lease => ({ mac, address, networkId: 'n', state: 'bound', expiresAt: 4_000_000_000_000, dynamic: true });

test('changes appended after the snapshot are read back in order; compaction folds them in and removes the old journal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-leasefile-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = new LeaseFile(join(dir, 'leases.json'));
  await file.compact({ leases: [lease('02:00:00:00:00:01', '198.18.0.10')], quarantine: [] });
  await file.append([
    { put: lease('02:00:00:00:00:02', '198.18.0.11') },
    { remove: '02:00:00:00:00:01' },
    { put: lease('02:00:00:00:00:03', '198.18.0.10') },
    { quarantine: { address: '198.18.0.12', until: 4_000_000_000_000 } },
  ]);
  const read = new LeaseFile(join(dir, 'leases.json')).read();
  t.deepEqual(read.leases.map((l) => [l.mac, l.address]).sort(), [
    ['02:00:00:00:00:02', '198.18.0.11'],
    ['02:00:00:00:00:03', '198.18.0.10'],
  ]);
  t.deepEqual(read.quarantine, [{ address: '198.18.0.12', until: 4_000_000_000_000 }]);
  await file.compact(read);
  await file.close();
  t.is(readdirSync(dir).filter((f) => f.endsWith('.journal')).length, 1);
  t.is(JSON.parse(readFileSync(join(dir, 'leases.json'), 'utf8')).leases.length, 2);
});

test('a torn last journal line (a crash mid-append) is skipped; a torn line before others is refused, naming the journal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-leasefile-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = new LeaseFile(join(dir, 'leases.json'));
  await file.compact({ leases: [], quarantine: [] });
  await file.append([{ put: lease('02:00:00:00:00:01', '198.18.0.10') }]);
  await file.close();
  const journal = join(dir, readdirSync(dir).find((f) => f.endsWith('.journal'))!);
  appendFileSync(journal, '{"put":{"mac":"02:00:00:00:00:02","addr');
  t.deepEqual(
    new LeaseFile(join(dir, 'leases.json')).read().leases.map((l) => l.mac),
    ['02:00:00:00:00:01'],
  );
  appendFileSync(journal, '\n{"remove":"02:00:00:00:00:01"}\n');
  const err = t.throws(() => new LeaseFile(join(dir, 'leases.json')).read());
  t.regex(err!.message, /lease journal .*\.journal is unreadable at line 2/);
});
