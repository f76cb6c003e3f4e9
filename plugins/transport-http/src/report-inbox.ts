/**
 * Agents' reports between their POST and the report handler: stored once per agent and
 * sequence, handed out oldest first, and never before an earlier report of the same agent
 * is gone (the kernel applies a sequence at or below the last applied as a duplicate).
 */
import type { Knex } from 'knex';
import type { AgentReport } from '@sprout/kernel';
import { jsonOf, type Inbox } from './inbox-drain.ts';

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
  next: (trx) =>
    trx(`${table} as r`)
      .select('r.agent_id', 'r.sequence', 'r.report')
      .where('r.available_at', '<=', trx.fn.now())
      // An earlier report still here (even one another instance holds) goes first.
      .whereNotExists(trx(`${table} as earlier`).select(trx.raw('1')).whereRaw('earlier.agent_id = r.agent_id and earlier.sequence < r.sequence'))
      .orderBy([{ column: 'r.received_at' }, { column: 'r.agent_id' }, { column: 'r.sequence' }])
      .forUpdate()
      .skipLocked()
      .first(),
  keyOf: (row) => ({ agent_id: row.agent_id, sequence: row.sequence }),
  read: (row) => jsonOf<AgentReport>(row.report),
};
