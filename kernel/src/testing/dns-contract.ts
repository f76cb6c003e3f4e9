/**
 * The contract every `dns` provider passes: upserts that are idempotent and replace by
 * (site, zone, name, type), removals that tolerate missing records, listings that keep
 * sites apart, and invalid records refused before anything is written. A provider
 * package runs it from its own test file:
 *
 *   dnsContract(test, { title: 'my-dns', setup: async () => kernelDnsSubject(kernel) });
 */
import { randomUUID } from 'node:crypto';
import type { TestFn } from 'ava';
import { dnsCapability, type DnsProvider, type DnsRecord } from '../capabilities/dns.ts';
import { recordsForAddress } from '../capabilities/dns-records.ts';
import type { Kernel } from '../kernel.ts';

export interface DnsContractSubject {
  provider: DnsProvider;
  /** A new site to hold records for; no two tests share one. */
  newSite(): Promise<string>;
}

export interface DnsContractOptions {
  /** Prefixes every test title, e.g. `dns-builtin on postgres`. */
  title: string;
  setup(): Promise<DnsContractSubject>;
  teardown?(): Promise<void>;
  /**
   * True for a provider backed by one external DNS server whose zones every site shares
   * (a PowerDNS stub): one name and type is one record there, whichever site wrote it, so
   * the test that expects two sites to hold the same name apart is not part of its contract.
   */
  sitesShareOneServer?: boolean;
}

/** A subject for the active `dns` provider of a booted kernel: sites are rows in its tables. */
export async function kernelDnsSubject(kernel: Kernel): Promise<DnsContractSubject> {
  const db = kernel.store.db;
  return {
    provider: await kernel.capability(dnsCapability),
    async newSite() {
      const siteId = randomUUID();
      await db('sites').insert({ id: siteId, name: `dns-contract-${siteId.slice(0, 8)}` });
      return siteId;
    },
  };
}

const byKey = (a: DnsRecord, b: DnsRecord) => `${a.zone} ${a.name} ${a.type}`.localeCompare(`${b.zone} ${b.name} ${b.type}`);
const sorted = (records: DnsRecord[]) => [...records].sort(byKey);
const machine = (siteId: string, hostname: string, address: string, ttl = 300) => recordsForAddress({ siteId, hostname, domain: 'lab.example', address, ttl });

export function dnsContract(test: TestFn, options: DnsContractOptions): void {
  let subject: DnsContractSubject;
  test.before(async () => {
    subject = await options.setup();
  });
  test.after.always(async () => {
    await options.teardown?.();
  });
  const title = (what: string) => `${options.title}: ${what}`;

  test(title('upserted A and PTR records are listed by site and by zone'), async (t) => {
    const { provider, newSite } = subject;
    const siteId = await newSite();
    const [a, ptr] = machine(siteId, 'node1', '198.18.0.2');
    await provider.upsertRecords([a, ptr]);
    t.deepEqual(sorted(await provider.listRecords(siteId)), sorted([a, ptr]));
    t.deepEqual(await provider.listRecords(siteId, 'lab.example'), [a]);
    t.deepEqual(await provider.listRecords(siteId, '0.18.198.in-addr.arpa'), [ptr]);
    t.deepEqual(await provider.listRecords(siteId, 'other.example'), []);
  });

  test(title('upserting the same records twice keeps one of each'), async (t) => {
    const { provider, newSite } = subject;
    const siteId = await newSite();
    const records = machine(siteId, 'node1', '198.18.0.2');
    await provider.upsertRecords(records);
    await provider.upsertRecords(records);
    t.deepEqual(sorted(await provider.listRecords(siteId)), sorted(records));
  });

  test(title('upserting a record with a new value or TTL replaces the old one'), async (t) => {
    const { provider, newSite } = subject;
    const siteId = await newSite();
    await provider.upsertRecords(machine(siteId, 'node1', '198.18.0.2'));
    const [a] = machine(siteId, 'node1', '198.18.0.3', 60);
    await provider.upsertRecords([a]);
    const listed = await provider.listRecords(siteId, 'lab.example');
    t.deepEqual(listed, [a]);
    // the PTR of the old address is a different record: replacing the A leaves it alone
    t.is((await provider.listRecords(siteId, '0.18.198.in-addr.arpa')).length, 1);
  });

  test(title('names are case-insensitive and listed lowercase without the trailing dot'), async (t) => {
    const { provider, newSite } = subject;
    const siteId = await newSite();
    await provider.upsertRecords([{ siteId, zone: 'Lab.Example.', name: 'NODE1.lab.example.', type: 'A', value: '198.18.0.2', ttl: 300 }]);
    await provider.upsertRecords([{ siteId, zone: 'lab.example', name: 'node1.lab.example', type: 'A', value: '198.18.0.4', ttl: 300 }]);
    t.deepEqual(await provider.listRecords(siteId), [{ siteId, zone: 'lab.example', name: 'node1.lab.example', type: 'A', value: '198.18.0.4', ttl: 300 }]);
    await provider.removeRecords([{ siteId, zone: 'LAB.EXAMPLE', name: 'Node1.Lab.Example', type: 'A' }]);
    t.deepEqual(await provider.listRecords(siteId), []);
  });

  test(title('removing deletes exactly the named records; removing a missing one is fine'), async (t) => {
    const { provider, newSite } = subject;
    const siteId = await newSite();
    const [a1, ptr1] = machine(siteId, 'node1', '198.18.0.2');
    const node2 = machine(siteId, 'node2', '198.18.1.7');
    await provider.upsertRecords([a1, ptr1, ...node2]);
    const never = { siteId, zone: 'lab.example', name: 'ghost.lab.example', type: 'A' as const };
    await provider.removeRecords([a1, never]);
    t.deepEqual(sorted(await provider.listRecords(siteId)), sorted([ptr1, ...node2]));
    await t.notThrowsAsync(provider.removeRecords([a1, never]));
    await t.notThrowsAsync(provider.removeRecords([]));
    await t.notThrowsAsync(provider.upsertRecords([]));
    t.is((await provider.listRecords(siteId)).length, 3);
  });

  if (!options.sitesShareOneServer)
    test(title('each site has its own records'), async (t) => {
      const { provider, newSite } = subject;
      const [siteA, siteB] = [await newSite(), await newSite()];
      const inA = machine(siteA, 'node1', '198.18.0.2');
      const inB = machine(siteB, 'node1', '198.18.0.9');
      await provider.upsertRecords([...inA, ...inB]);
      t.deepEqual(sorted(await provider.listRecords(siteA)), sorted(inA));
      t.deepEqual(sorted(await provider.listRecords(siteB)), sorted(inB));
      await provider.removeRecords(inB);
      t.deepEqual(await provider.listRecords(siteB), []);
      t.deepEqual(sorted(await provider.listRecords(siteA)), sorted(inA));
    });

  test(title('an invalid record is refused with SPROUT_ERR_VALIDATION and nothing of its batch is written'), async (t) => {
    const { provider, newSite } = subject;
    const siteId = await newSite();
    const [a] = machine(siteId, 'node1', '198.18.0.2');
    const invalid: DnsRecord[] = [
      { ...a, name: 'node1.elsewhere.example' },
      { ...a, value: 'not-an-address' },
      { ...a, value: '198.18.0.256' },
      { ...a, name: 'bad_name.lab.example' },
      { ...a, type: 'MX' as 'A' },
    ];
    for (const record of invalid) {
      await t.throwsAsync(provider.upsertRecords([a, record]), { code: 'SPROUT_ERR_VALIDATION' }, JSON.stringify(record));
    }
    t.deepEqual(await provider.listRecords(siteId), []);
  });
}
