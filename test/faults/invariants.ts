/**
 * What must hold in the database after any fault: no address allocated twice, no machine
 * in two unfinished workflows, every change an operator asked for has its audit record,
 * and every failure state says why. Returns the violations, empty when all is well.
 */
import knexModule from 'knex';

const createKnex = (knexModule as any).knex ?? knexModule;

export async function invariantViolations(url: string, schema?: string): Promise<string[]> {
  const db = createKnex({ client: 'pg', connection: url, searchPath: schema ? [schema] : undefined, pool: { min: 0, max: 1 } });
  try {
    const problems: string[] = [];
    const rows = async (sql: string) => (await db.raw(sql)).rows as Record<string, unknown>[];
    for (const r of await rows(`select network_id, address, count(*)::int as n from ip_allocations group by 1, 2 having count(*) > 1`))
      problems.push(`address ${r.address} allocated ${r.n} times in network ${r.network_id}`);
    for (const r of await rows(
      `select machine_id, count(*)::int as n from workflows where machine_id is not null and state not in ('succeeded', 'failed', 'cancelled', 'timed_out') group by 1 having count(*) > 1`,
    ))
      problems.push(`machine ${r.machine_id} is in ${r.n} unfinished workflows`);
    for (const r of await rows(
      `select s.id, s.name from sites s where not exists (select 1 from audit_records a where a.action = 'site.create' and a.outcome = 'success' and a.target_id = s.id::text)`,
    ))
      problems.push(`site ${r.name} has no audit record of its creation`);
    for (const r of await rows(
      `select a.target_id from audit_records a where a.action = 'site.create' and a.outcome = 'success' and not exists (select 1 from sites s where s.id::text = a.target_id)`,
    ))
      problems.push(`an audit record says site ${r.target_id} was created, but it does not exist`);
    for (const r of await rows(
      `select m.id, m.hostname from machines m where not exists (select 1 from audit_records a where a.outcome = 'success' and ((a.action = 'machine.create' and a.target_id = m.id::text) or (a.action = 'machine.import' and jsonb_exists(a.details->'created', m.hostname))))`,
    ))
      problems.push(`machine ${r.hostname} has no audit record of its creation`);
    for (const r of await rows(
      `select w.id, w.kind from workflows w where w.machine_id is not null and w.created_by like 'token:%' and not exists (select 1 from audit_records a where a.outcome = 'success' and (a.target_id = w.id::text or a.details->>'workflow' = w.id::text))`,
    ))
      problems.push(`${r.kind} workflow ${r.id} has no audit record of who started it`);
    for (const r of await rows(
      `select hostname, status from machines where (status like 'failed_%' or status = 'broken') and (status_reason is null or coalesce(status_reason->>'message', '') = '')`,
    ))
      problems.push(`machine ${r.hostname} is ${r.status} without a reason`);
    return problems;
  } finally {
    await db.destroy();
  }
}
