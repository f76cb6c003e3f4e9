/**
 * The PowerDNS stub passes the `dns` contract against fake PowerDNS servers. Each site
 * the contract makes gets its own PowerDNS, so the tests (which reuse names) stay
 * independent; one PowerDNS has one RRset per name and type whatever the site, so the
 * test of two sites holding one name apart is not part of its contract.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { DnsProvider } from '@sprout/kernel';
import { dnsContract } from '@sprout/kernel/testing';
import { PowerdnsClient, PowerdnsDns } from '../src/index.ts';
import { startFakePowerdns, type FakePowerdns } from '@sprout/test-support/fake-powerdns.ts';

const zones = ['lab.example', '0.18.198.in-addr.arpa', '1.18.198.in-addr.arpa'];
const servers: FakePowerdns[] = [];
const bySite = new Map<string, PowerdnsDns>();

function stubFor(siteId: string): PowerdnsDns {
  const stub = bySite.get(siteId);
  if (!stub) throw new Error(`the contract used site ${siteId} without making it`);
  return stub;
}

/** Every record of a batch goes to its site's server; a batch spanning sites is split. */
function perSite<T extends { siteId: string }>(records: T[], work: (stub: PowerdnsDns, mine: T[]) => Promise<void>): Promise<void> {
  if (records.length === 0) return work([...bySite.values()][0], []);
  const sites = [...new Set(records.map((r) => r.siteId))];
  return sites.reduce(
    (done, siteId) =>
      done.then(() =>
        work(
          stubFor(siteId),
          records.filter((r) => r.siteId === siteId),
        ),
      ),
    Promise.resolve(),
  );
}

dnsContract(test, {
  title: 'powerdns-stub against a fake PowerDNS',
  sitesShareOneServer: true,
  async setup() {
    const provider: DnsProvider = {
      upsertRecords: (records) => perSite(records, (stub, mine) => stub.upsertRecords(mine)),
      removeRecords: (records) => perSite(records, (stub, mine) => stub.removeRecords(mine)),
      listRecords: (siteId, zone) => stubFor(siteId).listRecords(siteId, zone),
    };
    return {
      provider,
      async newSite() {
        const pdns = await startFakePowerdns({ zones });
        servers.push(pdns);
        const siteId = randomUUID();
        bySite.set(
          siteId,
          new PowerdnsDns(
            new PowerdnsClient({ pluginId: 'powerdns-stub', url: pdns.url, apiKey: pdns.apiKey, timeoutMs: 5_000 }),
            { serverId: 'localhost', zones, defaultTtl: 300 },
            'powerdns-stub',
          ),
        );
        return siteId;
      },
    };
  },
  teardown: async () => {
    await Promise.all(servers.map((s) => s.close()));
  },
});
