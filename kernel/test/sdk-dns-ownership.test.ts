/**
 * The DNS "owned by hostname" rule from the light SDK: which records removing a machine
 * from its site removes. Exactly the A and PTR records recordsForAddress made for it, in
 * any of its networks' domains, and nothing of a machine whose name merely starts alike.
 */
import test from 'ava';
import { isRecordOwnedBy, recordsForAddress, recordsOwnedBy, reverseNameFor } from '@sprout/kernel/sdk';

const siteId = '6f1c1f7e-0000-4000-8000-000000000001';
const records = (hostname: string, address: string, domain = 'lab.example') => recordsForAddress({ siteId, hostname, domain, address });

test("a machine owns its A and PTR records in every domain, and no one else's", (t) => {
  const web1 = [...records('web1', '198.18.0.2'), ...records('web1', '198.19.0.2', 'storage.example')];
  const others = [...records('web', '198.18.0.3'), ...records('web10', '198.18.0.4'), ...records('db1', '198.18.0.5')];
  t.deepEqual(recordsOwnedBy([...others, ...web1], 'web1'), web1);
  t.deepEqual(recordsOwnedBy([...others, ...web1], 'WEB1'), web1, 'hostnames compare case-insensitively');
  t.deepEqual(recordsOwnedBy(others, 'web1'), []);
});

test("a numeric hostname does not claim another machine's reverse record by its in-addr.arpa name", (t) => {
  const [, ptrOfDb] = records('db1', '198.18.0.2'); // named 2.0.18.198.in-addr.arpa
  t.is(ptrOfDb.name, reverseNameFor('198.18.0.2'));
  t.false(isRecordOwnedBy(ptrOfDb, '2'));
  const [a2, ptr2] = records('2', '198.18.0.9');
  t.true(isRecordOwnedBy(a2, '2'));
  t.true(isRecordOwnedBy(ptr2, '2'));
});

test('an empty hostname owns nothing', (t) => {
  t.deepEqual(recordsOwnedBy(records('web1', '198.18.0.2'), ''), []);
});
