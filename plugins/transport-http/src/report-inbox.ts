/**
 * Agents' reports between their POST and the report handler: stored once per agent and
 * sequence, handed out oldest first, and never before an earlier report of the same agent
 * is gone (the kernel applies a sequence at or below the last applied as a duplicate).
 */
import type { Knex } from 'knex';
import type { AgentReport } from '@sprout/kernel/sdk';
import { jsonOf, type Inbox, type InboxRow } from './inbox-drain.ts';

const table = 'http_report_inbox';

/** Stores reports; those already stored (a retried POST) are left as they are. */
export async function storeReports(db: Knex, reports: AgentReport[]): Promise<void> {
  if (reports.length === 0) return;
  const rows = reports.map((report) => ({ agent_id: report.agentId, sequence: report.sequence, report: JSON.stringify(report) }));
  await db(table).insert(rows).onConflict(['agent_id', 'sequence']).ignore();
}

export const reportInbox: Inbox<AgentReport> = {
  what: 'reports',
  table,
  async next(trx, limit) {
    const rows: InboxRow[] = await trx(`${table} as r`)
      .select('r.agent_id', 'r.sequence', 'r.report')
      .where('r.available_at', '<=', trx.fn.now())
      // An earlier report another instance holds, or one waiting to be retried, goes first.
      .whereNotExists(trx(`${table} as earlier`).select(trx.raw('1')).whereRaw('earlier.agent_id = r.agent_id and earlier.sequence < r.sequence and earlier.available_at > now()'))
      .orderBy([{ column: 'r.received_at' }, { column: 'r.agent_id' }, { column: 'r.sequence' }])
      .forUpdate()
      .skipLocked()
      .limit(limit);
    return withoutGaps(trx, rows);
  },
  keyColumns: ['agent_id', 'sequence'],
  keyOf: (row) => [row.agent_id, row.sequence],
  orderKeyOf: (row) => String(row.agent_id),
  read: (row) => jsonOf<AgentReport>(row.report),
};

/**
 * Cuts each agent's rows at the first earlier report that is still in the table but not in
 * the batch: one another instance is claiming right now (its lock made us skip it).
 */
async function withoutGaps(trx: Knex.Transaction, rows: InboxRow[]): Promise<InboxRow[]> {
  const byAgent = new Map<string, number[]>();
  for (const row of rows) byAgent.set(String(row.agent_id), [...(byAgent.get(String(row.agent_id)) ?? []), Number(row.sequence)]);
  const firstGap = new Map<string, number>();
  for (const [agentId, sequences] of byAgent) {
    const gap = await trx(table)
      .where({ agent_id: agentId })
      .where('sequence', '<', Math.max(...sequences))
      .whereNotIn('sequence', sequences)
      .min({ sequence: 'sequence' })
      .first();
    if (gap?.sequence != null) firstGap.set(agentId, Number(gap.sequence));
  }
  return rows.filter((row) => Number(row.sequence) < (firstGap.get(String(row.agent_id)) ?? Infinity));
}
