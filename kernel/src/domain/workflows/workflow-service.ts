/**
 * Starting, reading and cancelling workflows. Starting one moves its machine into the
 * in-progress state in the same transaction, so a machine is never in two workflows;
 * the engine takes it from there once the transaction commits.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { ambiguousPrefix, isIdPrefix, rowsByIdPrefix } from '../id-prefix.ts';
import { cursorCodec } from '../../api/cursor.ts';
import { SproutError } from '../../errors/index.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { MachineRow } from '../machines/find-machine.ts';
import { isUuid } from '../sites/find-site.ts';
import { finishedStates, workflowDefinitions, type StepSpec, type WorkflowKind } from './definitions.ts';
import type { StepRow, WorkflowEngine, WorkflowRow } from './engine.ts';
import { secretDigests, separateSecrets, storeSecrets, type SecretDigest } from './workflow-secrets.ts';

const workflowCursor = cursorCodec('workflows', ['timestamp', 'uuid']);

export interface WorkflowView {
  id: string;
  kind: string;
  state: string;
  machine: { id: string; hostname: string } | null;
  site: { id: string; name: string };
  params: Record<string, unknown>;
  /** The workflow's secret params (user-data): name, sha256 and size, never the value. */
  secrets: ({ name: string } & SecretDigest)[];
  error: string | null;
  cancelRequested: boolean;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  steps: {
    name: string;
    kind: string;
    state: string;
    attempt: number;
    maxAttempts: number;
    startedAt: string | null;
    finishedAt: string | null;
    error: string | null;
    waitingFor: string | null;
    logTail: string[];
    /** When the step's machine last called its agent back; null: not yet. */
    machineHeardAt: string | null;
    result: Record<string, unknown> | null;
  }[];
}

/** A workflow's steps, in order; each step's idempotency key is `<workflow>:<step>`. */
async function insertSteps(trx: Knex.Transaction, workflowId: string, steps: StepSpec[]): Promise<void> {
  await trx('workflow_steps').insert(
    steps.map((s, position) => ({
      id: randomUUID(),
      workflow_id: workflowId,
      position,
      name: s.name,
      kind: s.kind,
      max_attempts: s.maxAttempts,
      timeout_ms: s.timeoutMs,
      idempotency_key: `${workflowId}:${s.name}`,
    })),
  );
}

const iso = (v: unknown) => (v ? new Date(v as string).toISOString() : null);

export class WorkflowService {
  constructor(private readonly deps: { db: Knex; lifecycle: Lifecycle; engine: () => WorkflowEngine }) {}

  /**
   * Creates a workflow for `machine` and moves the machine into its in-progress state.
   * The secret params its kind declares are stored apart (workflow-secrets.ts).
   */
  async start(
    trx: Knex.Transaction,
    input: { kind: Exclude<WorkflowKind, 'sync-site'>; machine: MachineRow; params: Record<string, unknown>; actor: string; requestId?: string },
  ): Promise<string> {
    const definition = workflowDefinitions[input.kind];
    const id = randomUUID();
    const { params, secrets } = separateSecrets(input.kind, input.params);
    await trx('workflows').insert({
      id,
      kind: input.kind,
      machine_id: input.machine.id,
      site_id: input.machine.site_id,
      state: 'pending',
      params: JSON.stringify(params),
      machine_from_status: input.machine.status,
      created_by: input.actor,
    });
    await storeSecrets(trx, id, secrets);
    await insertSteps(trx, id, definition.steps(params));
    await this.deps.lifecycle.transition(trx, {
      machine: input.machine,
      action: definition.start!,
      actor: input.actor,
      workflowId: id,
      requestId: input.requestId,
    });
    trx.executionPromise.then(
      () => this.deps.engine().kick(id),
      () => undefined,
    );
    return id;
  }

  /** Creates a workflow that acts on a whole site (e.g. `sync-site`). */
  async startForSite(trx: Knex.Transaction, input: { kind: 'sync-site'; siteId: string; actor: string }): Promise<string> {
    const id = randomUUID();
    await trx('workflows').insert({ id, kind: input.kind, machine_id: null, site_id: input.siteId, state: 'pending', params: '{}', created_by: input.actor });
    await insertSteps(trx, id, workflowDefinitions[input.kind].steps({}));
    trx.executionPromise.then(
      () => this.deps.engine().kick(id),
      () => undefined,
    );
    return id;
  }

  /** The full id of a workflow named by its id or its first 4+ hex digits; unknown or ambiguous is an error. */
  async resolveId(idOrPrefix: string, db: Knex | Knex.Transaction = this.deps.db): Promise<string> {
    if (isUuid(idOrPrefix)) return idOrPrefix;
    if (!isIdPrefix(idOrPrefix)) throw new SproutError('SPROUT_ERR_NOT_FOUND', `no workflow "${idOrPrefix}"`);
    const rows = await rowsByIdPrefix<{ id: string; kind: string; state: string }>(db, 'workflows', idOrPrefix, ['id', 'kind', 'state']);
    if (rows.length === 0) throw new SproutError('SPROUT_ERR_NOT_FOUND', `no workflow "${idOrPrefix}"`);
    if (rows.length > 1)
      throw ambiguousPrefix(
        'workflow',
        idOrPrefix,
        rows.map((r) => `${r.id.slice(0, 8)} (${r.kind}, ${r.state})`),
      );
    return rows[0].id;
  }

  async get(idOrPrefix: string, db: Knex | Knex.Transaction = this.deps.db): Promise<WorkflowView> {
    const id = await this.resolveId(idOrPrefix, db);
    const row = await db<WorkflowRow & { created_at: Date; updated_at: Date; finished_at: Date | null }>('workflows').where({ id }).first();
    if (!row) throw new SproutError('SPROUT_ERR_NOT_FOUND', `no workflow "${id}"`);
    return (await this.views(db, [row]))[0];
  }

  /**
   * Newest first (created_at, then id, descending); `nextCursor` is the last item's
   * position, exact to the microsecond, and null on the last page.
   */
  async list(
    filter: { machine?: string; kind?: string; state?: string; site?: string; limit?: number; cursor?: string },
    db: Knex = this.deps.db,
  ): Promise<{ items: WorkflowView[]; nextCursor: string | null }> {
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500);
    const q = db('workflows')
      .select('*', db.raw(`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at`))
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(limit + 1);
    if (filter.machine) q.where('machine_id', filter.machine);
    if (filter.kind) q.where('kind', filter.kind);
    if (filter.state) q.where('state', filter.state);
    if (filter.site) q.where('site_id', filter.site);
    if (filter.cursor) q.whereRaw('(created_at, id) < (?::timestamptz, ?::uuid)', workflowCursor.decode(filter.cursor));
    const rows = await q;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: await this.views(db, page), nextCursor: rows.length > limit ? workflowCursor.encode(last.cursor_at, last.id) : null };
  }

  /** Asks for cancellation; the engine ends the workflow at once unless a control step is mid-transaction (then at its end), withdrawing the site work of a running site step. */
  async requestCancel(trx: Knex.Transaction, id: string, actor: string): Promise<void> {
    const wf = await trx<WorkflowRow>('workflows').where({ id }).forUpdate().first();
    if (!wf) throw new SproutError('SPROUT_ERR_NOT_FOUND', `no workflow "${id}"`);
    if (finishedStates.includes(wf.state as never)) {
      throw new SproutError('SPROUT_ERR_CONFLICT', `workflow ${id} already ended (${wf.state}); nothing to cancel`);
    }
    await trx('workflows')
      .where({ id })
      .update({ cancel_requested: true, params: JSON.stringify({ ...wf.params, cancelledBy: actor }), updated_at: trx.fn.now() });
    trx.executionPromise.then(
      () => this.deps.engine().kick(id),
      () => undefined,
    );
  }

  private async views(db: Knex | Knex.Transaction, rows: any[]): Promise<WorkflowView[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const steps = await db<StepRow & { started_at: Date | null; finished_at: Date | null }>('workflow_steps')
      .whereIn('workflow_id', ids)
      .orderBy(['workflow_id', 'position']);
    const machines = await db('machines')
      .whereIn('id', rows.map((r) => r.machine_id).filter(Boolean))
      .select('id', 'hostname');
    const sites = await db('sites')
      .whereIn('id', [...new Set(rows.map((r) => r.site_id))])
      .select('id', 'name');
    const secrets = await secretDigests(db, ids);
    return rows.map((r) => {
      const { cancelledBy: _c, ...params } = r.params ?? {};
      return {
        id: r.id,
        kind: r.kind,
        state: r.state,
        machine: machines.find((m) => m.id === r.machine_id) ?? null,
        site: sites.find((s) => s.id === r.site_id)!,
        params,
        secrets: secrets.get(r.id) ?? [],
        error: r.error,
        cancelRequested: r.cancel_requested,
        createdBy: r.created_by,
        createdAt: iso(r.created_at)!,
        updatedAt: iso(r.updated_at)!,
        finishedAt: iso(r.finished_at),
        steps: steps
          .filter((s) => s.workflow_id === r.id)
          .map((s) => ({
            name: s.name,
            kind: s.kind,
            state: s.state,
            attempt: s.attempt,
            maxAttempts: s.max_attempts,
            startedAt: iso(s.started_at),
            finishedAt: iso(s.finished_at),
            error: s.error,
            waitingFor: s.waiting_for,
            logTail: s.log_tail ?? [],
            machineHeardAt: iso(s.machine_heard_at),
            result: s.result,
          })),
      };
    });
  }
}
