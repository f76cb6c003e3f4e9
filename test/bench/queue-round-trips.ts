/**
 * `node --conditions=sprout-source --import tsx test/bench/queue-round-trips.ts [syncs]`:
 * counts the database round trips of the HTTP transport's deploy path on PostgreSQL.
 * A control plane (in process, background jobs on) and one agent over real HTTP; the
 * agent answers each work item with `task.started` and `task.succeeded`, as a real agent
 * does. Runs `syncs` site syncs (one work item, two reports each) one after the other,
 * counting every statement knex sends (BEGIN/COMMIT included; not the bench's own look at
 * the workflow) from the sync request to its workflow's end, by the tables each names; then counts what one agent waiting for work
 * costs over 10 idle seconds. Prints one JSON object.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AgentReport } from '@sprout/kernel';
import { startHarness } from '@sprout/test-support/harness.ts';
import { httpAgentTransport } from '../../plugins/transport-http/src/agent-client.ts';

const syncs = Number(process.argv[2] ?? 10);
const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const harness = await startHarness('postgres', { background: true, yaml: 'plugins:\n  transport-http: { waitSeconds: 25 }\n' });
const { kernel } = harness;
const db = kernel.store.db;
try {
  const controlPlaneUrl = await kernel.app!.listen({ host: '127.0.0.1', port: 0 });
  const siteId = randomUUID();
  const agentId = randomUUID();
  await db('sites').insert({ id: siteId, name: `bench-${randomBytes(3).toString('hex')}` });
  const credential = `sprout_agent_${randomBytes(32).toString('base64url')}`;
  await db('agents').insert({ id: agentId, site_id: siteId, hostname: 'bench-agent', credential_hash: createHash('sha256').update(credential).digest('hex') });
  const settings = kernel.agentTransportSettings().settings;
  const agent = await httpAgentTransport({ controlPlaneUrl, agentId, siteId, credential, settings, logger: quiet });
  let sequence = 0;
  const report = (kind: string, workItemId: string, payload: Record<string, unknown> = {}): AgentReport => ({
    agentId,
    siteId,
    sequence: ++sequence,
    kind,
    workItemId,
    at: new Date().toISOString(),
    payload,
  });
  await agent.consumeWork(async (item) => {
    await agent.publishReports([report('task.started', item.id)]);
    await agent.publishReports([report('task.succeeded', item.id, { result: {} })]);
  });

  type Bucket = { statements: number; byTable: Record<string, number> };
  const bucket = (): Bucket => ({ statements: 0, byTable: {} });
  let current: Bucket | null = null;
  // Tables a statement names (`for update skip locked` is no table).
  const tables = /(?:\bfrom|\binto|\bjoin|^\s*update)\s+"?([a-z_]+)"?/gi;
  db.on('query', (query: { sql: string }) => {
    if (!current || query.sql.includes('/* bench */')) return;
    current.statements += 1;
    const named = new Set([...query.sql.matchAll(tables)].map((m) => m[1].toLowerCase()));
    if (named.size === 0) named.add(query.sql.trim().split(/\s+/)[0].toLowerCase());
    for (const table of named) current.byTable[table] = (current.byTable[table] ?? 0) + 1;
  });

  const run = async () => {
    const started = await harness.request({ method: 'POST', url: `/v1/sites/${siteId}/sync` });
    if (started.status !== 202) throw new Error(`sync: ${started.status} ${JSON.stringify(started.body)}`);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const workflow = await kernel.store.db('workflows').comment('bench').where({ id: started.body.id }).first('state', 'finished_at');
      if (workflow.finished_at) {
        if (workflow.state !== 'succeeded') throw new Error(`workflow ${started.body.id} ended ${workflow.state}`);
        return;
      }
      if (Date.now() > deadline) throw new Error('sync did not finish in 30 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  // Warm up: the first sync pays for the agent's first poll.
  await run();
  const deploy = (current = bucket());
  const t0 = Date.now();
  for (let i = 0; i < syncs; i++) await run();
  current = null;
  const elapsedMs = Date.now() - t0;

  // Idle: one agent long-polling, no work.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const idle = (current = bucket());
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  current = null;
  const tablesNow = await db('information_schema.tables')
    .where({ table_schema: db.raw('current_schema()') })
    .whereIn('table_name', ['outbox', 'http_work_items', 'http_report_inbox', 'http_dead_letters', 'report_dead_letters'])
    .pluck('table_name');
  const per = (n: number) => +(n / syncs).toFixed(1);
  console.log(
    JSON.stringify(
      {
        syncs,
        queueTables: tablesNow.sort(),
        perSync: {
          statements: per(deploy.statements),
          elapsedMs: Math.round(elapsedMs / syncs),
          byTable: Object.fromEntries(Object.entries(deploy.byTable).map(([k, v]) => [k, per(v)])),
        },
        idleTenSeconds: idle,
      },
      null,
      2,
    ),
  );
  await agent.close();
  kernel.app!.server.closeAllConnections();
} finally {
  await harness.stop();
}
