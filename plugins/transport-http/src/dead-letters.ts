/**
 * Work that exhausted its deliveries: moved out of the queue into a durable inbox in the
 * same transaction, so the dead-letter handler of whichever instance runs gets it once it
 * resolves, however the item died (nak, or a lease that ran out with no agent polling).
 */
import type { Knex } from 'knex';
import type { WorkItem } from '@sprout/kernel/sdk';
import { jsonOf, type Inbox } from './inbox-drain.ts';

const table = 'http_dead_letters';

export interface DeadLetter {
  item: WorkItem;
  reason: string;
}

/** Items of `siteId` (or of every site) delivered `maxDeliver` times whose last lease is over. Returns how many died. */
export async function moveExhaustedWork(trx: Knex.Transaction, maxDeliver: number, siteId?: string): Promise<number> {
  const query = trx('http_work_items')
    .select('id', 'item', 'deliveries')
    .whereNull('acked_at')
    .whereNull('dead_at')
    .where('deliveries', '>=', maxDeliver)
    .where('available_at', '<=', trx.fn.now())
    .forUpdate()
    .skipLocked();
  const rows = await (siteId ? query.where({ site_id: siteId }) : query);
  if (rows.length === 0) return 0;
  await trx('http_work_items')
    .whereIn('id', rows.map((row) => row.id))
    .update({ dead_at: trx.fn.now() });
  await trx(table)
    .insert(rows.map((row) => ({ item_id: row.id, item: JSON.stringify(jsonOf<WorkItem>(row.item)), reason: `not acknowledged after ${row.deliveries} deliveries` })))
    .onConflict('item_id')
    .ignore();
  return rows.length;
}

/** The dead-letter inbox; looking for the next one also sweeps up work whose last lease ran out. */
export function deadLetterInbox(maxDeliver: number): Inbox<DeadLetter> {
  return {
    what: 'dead letters',
    table,
    async next(trx, limit) {
      await moveExhaustedWork(trx, maxDeliver);
      return trx(table).select('item_id', 'item', 'reason').where('available_at', '<=', trx.fn.now()).orderBy([{ column: 'dead_at' }, { column: 'item_id' }]).forUpdate().skipLocked().limit(limit);
    },
    keyColumns: ['item_id'],
    keyOf: (row) => [row.item_id],
    // Dead letters do not wait for each other.
    orderKeyOf: (row) => String(row.item_id),
    read: (row) => ({ item: jsonOf<WorkItem>(row.item), reason: String(row.reason) }),
  };
}
