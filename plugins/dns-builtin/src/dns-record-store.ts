/**
 * The builtin `dns` provider: records kept in this plugin's `dns_records` table, inside
 * the caller's transaction when one is given. Serving them is the site agent's job.
 */
import type { Knex } from 'knex';
import { normaliseDnsName, normaliseRecord, normaliseRecordKey, type DnsProvider, type DnsRecord, type DnsRecordKey } from '@sprout/kernel/sdk';

interface DnsRecordRow {
  site_id: string;
  zone: string;
  name: string;
  type: 'A' | 'PTR';
  value: string;
  ttl: number | null;
}

const keyOf = (r: DnsRecordKey) => JSON.stringify([r.siteId, r.zone, r.name, r.type]);

/** Last one wins: one statement may not touch the same row twice. */
function distinctByKey<T extends DnsRecordKey>(records: T[]): T[] {
  return [...new Map(records.map((r) => [keyOf(r), r])).values()];
}

function toRecord(row: DnsRecordRow): DnsRecord {
  return { siteId: row.site_id, zone: row.zone, name: row.name, type: row.type, value: row.value, ...(row.ttl === null ? {} : { ttl: row.ttl }) };
}

export function dnsRecordStore(db: Knex): DnsProvider {
  return {
    async upsertRecords(records, trx) {
      const rows = distinctByKey(records.map(normaliseRecord)).map((r) => ({
        site_id: r.siteId,
        zone: r.zone,
        name: r.name,
        type: r.type,
        value: r.value,
        ttl: r.ttl ?? null,
        updated_at: db.fn.now(),
      }));
      if (rows.length === 0) return;
      await (trx ?? db)('dns_records').insert(rows).onConflict(['site_id', 'zone', 'name', 'type']).merge(['value', 'ttl', 'updated_at']);
    },

    async removeRecords(records, trx) {
      const keys = distinctByKey(records.map(normaliseRecordKey)).map((r) => [r.siteId, r.zone, r.name, r.type]);
      if (keys.length === 0) return;
      await (trx ?? db)('dns_records').whereIn(['site_id', 'zone', 'name', 'type'], keys).delete();
    },

    async listRecords(siteId, zone, trx) {
      const query = (trx ?? db)<DnsRecordRow>('dns_records').where({ site_id: siteId }).orderBy(['zone', 'name', 'type']);
      if (zone !== undefined) query.where({ zone: normaliseDnsName(zone, 'zone') });
      return (await query).map(toRecord);
    },
  };
}
