/**
 * Power as an operator tool, on the control plane's side: a power command (status, on,
 * off, cycle) becomes a `power_requests` row and an outbox row of kind `power` for the
 * machine's site agent, whose task.succeeded / task.failed settles the row and the
 * machine's power state; the command's caller waits for that settle. The periodic poll
 * queues one `power-poll` work item per site for its machines with a BMC, and the
 * agent's `power.state` reports update each machine.
 *
 * The control plane never talks to a BMC: credentials are opened (powerTargetOf) only
 * into the work item's payload, and scrubbed from the outbox row once the request settled.
 * The wait is notified in-process and also re-reads the row every half second, so the
 * answer reaches a caller whichever control plane applied the agent's report.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { PowerState, PowerTarget } from '../../capabilities/power.ts';
import type { SproutConfig } from '../../config/schema.ts';
import { SproutError } from '../../errors/index.ts';
import { outboxIdOf, outboxRowId } from '../workflows/outbox-dispatcher.ts';
import { powerTargetOf, type CredentialSealer } from './bmc-credentials.ts';
import type { MachineRow } from './find-machine.ts';

export type PowerAction = 'status' | 'on' | 'off' | 'cycle';

export interface PowerRequestRow {
  id: string;
  machine_id: string | null;
  site_id: string;
  action: PowerAction | 'poll';
  soft: boolean;
  state: 'pending' | 'succeeded' | 'failed';
  result: { state?: PowerState; note?: string; awaitsPerson?: string; reason?: string } | null;
  error: string | null;
  requested_by: string;
  outbox_id: string | number | null;
  created_at: Date;
  finished_at: Date | null;
}

/** What an agent answered for a power work item. */
export type PowerOutcome = { ok: true; result: Record<string, unknown> } | { ok: false; error: string; reason?: string };

const powerStates = new Set(['on', 'off', 'unknown']);
/** How long the caller of a power command waits beyond the BMC call's own timeout (transport, agent's queue). */
export const answerGraceMs = 15_000;
const rereadMs = 500;

export class PowerService {
  private readonly settled = new EventEmitter().setMaxListeners(0);
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<unknown> | undefined;

  constructor(private readonly deps: { db: Knex; sealer: CredentialSealer; config: Pick<SproutConfig, 'power'>; logger: Logger; afterDispatch: () => void }) {}

  get callTimeoutMs(): number {
    return this.deps.config.power.callTimeoutSeconds * 1000;
  }

  /**
   * Queues a power command for the machine's site agent; returns the request id. A site
   * without an agent is a 409 naming it: nobody would ever answer.
   */
  async queue(trx: Knex.Transaction, machine: MachineRow, action: PowerAction, soft: boolean, actor: string): Promise<string> {
    await this.requireAgent(trx, machine.site_id);
    const id = randomUUID();
    const power = await powerTargetOf(trx, this.deps.sealer, machine.id);
    const [outbox] = await trx('outbox')
      .insert({
        site_id: machine.site_id,
        kind: 'power',
        payload: JSON.stringify({ action, ...(soft ? { soft } : {}), power, callTimeoutMs: this.callTimeoutMs, request: id, machine: machine.id }),
      })
      .returning('id');
    await trx('power_requests').insert({
      id,
      machine_id: machine.id,
      site_id: machine.site_id,
      action,
      soft,
      state: 'pending',
      requested_by: actor,
      outbox_id: outboxRowId(outbox),
    });
    return id;
  }

  private async requireAgent(db: Knex | Knex.Transaction, siteId: string): Promise<void> {
    const agent = await db('agents').where({ site_id: siteId }).first('id');
    if (agent) return;
    const site = await db('sites').where({ id: siteId }).first('name');
    throw new SproutError('SPROUT_ERR_CONFLICT', `site ${site?.name ?? siteId} has no agent to ask the BMC; start one there (sprout agent join) first`);
  }

  /** The request once settled, or null when the agent did not answer within the call timeout plus a grace. */
  async waitFor(id: string, timeoutMs = this.callTimeoutMs + answerGraceMs): Promise<PowerRequestRow | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await this.deps.db<PowerRequestRow>('power_requests').where({ id }).first();
      if (row && row.state !== 'pending') return row;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.settled.off(id, done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(rereadMs, left));
        this.settled.once(id, done);
      });
    }
  }

  /**
   * Settles the power request a work item carried (a no-op for other work items, or one
   * already settled); returns whether it was one. Runs inside the report's transaction.
   */
  async settle(db: Knex | Knex.Transaction, workItemId: string | null | undefined, outcome: PowerOutcome): Promise<boolean> {
    const outboxId = workItemId ? outboxIdOf(workItemId) : null;
    if (outboxId === null) return false;
    const request = await db<PowerRequestRow>('power_requests').where({ outbox_id: outboxId }).first();
    if (!request) return false;
    if (request.state !== 'pending') return true;
    const result: NonNullable<PowerRequestRow['result']> = outcome.ok ? answerOf(outcome.result) : { ...(outcome.reason ? { reason: outcome.reason } : {}) };
    await db('power_requests')
      .where({ id: request.id, state: 'pending' })
      .update({
        state: outcome.ok ? 'succeeded' : 'failed',
        result: JSON.stringify(result),
        error: outcome.ok ? null : outcome.error,
        finished_at: db.fn.now(),
      });
    if (request.machine_id) {
      if (outcome.ok && result.state) await this.recordState(db, request.site_id, request.machine_id, result.state, null);
      else if (!outcome.ok)
        await db('machines').where({ id: request.machine_id, site_id: request.site_id }).update({ power_error: outcome.error, power_checked_at: db.fn.now() });
    }
    const notify = () => this.settled.emit(request.id);
    const commit = (db as Knex.Transaction).executionPromise;
    if (commit) commit.then(notify, () => undefined);
    else notify();
    return true;
  }

  /** A `power.state` report: the machine's state as its site's agent read it from the BMC. */
  async recordState(db: Knex | Knex.Transaction, siteId: string, machineId: string, state: PowerState, error: string | null): Promise<void> {
    await db('machines').where({ id: machineId, site_id: siteId }).update({ power_state: state, power_checked_at: db.fn.now(), power_error: error });
  }

  /** A power work item the transport gave up on (never acknowledged): its request fails with that reason. */
  async givenUp(workItemId: string, reason: string): Promise<void> {
    await this.deps.db.transaction((trx) =>
      this.settle(trx, workItemId, { ok: false, error: `the site's agent never completed the power request: ${reason}`, reason: 'unreachable' }),
    );
  }

  start(): void {
    const seconds = this.deps.config.power.pollSeconds;
    if (seconds === 0) return;
    // Ticks more often than the period: the database decides when a site is due, whichever control plane asks.
    this.timer = setInterval(() => {
      if (this.polling) return;
      this.polling = this.poll()
        .catch((err) => this.deps.logger.warn({ err }, 'could not queue the power poll; will try again'))
        .finally(() => (this.polling = undefined));
    }, Math.min(seconds, 15) * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /**
   * Queues one `power-poll` per site that has an agent and machines with a BMC (not
   * manual), unless its previous poll is pending or younger than `power.pollSeconds`.
   * A poll left pending (its agent never answered) past twice the period plus the call
   * timeout is failed, so the site is polled again. Returns how many sites were queued.
   */
  async poll(): Promise<number> {
    const { db } = this.deps;
    const { pollSeconds, pollConcurrency } = this.deps.config.power;
    if (pollSeconds === 0) return 0;
    const staleSeconds = 2 * pollSeconds + this.deps.config.power.callTimeoutSeconds;
    await db('power_requests')
      .where({ action: 'poll', state: 'pending' })
      .where('created_at', '<', db.raw(`now() - ? * interval '1 second'`, [staleSeconds]))
      .update({ state: 'failed', error: `the site's agent did not answer the power poll within ${staleSeconds} s`, finished_at: db.fn.now() });
    const sites = await db('machines')
      .whereNotNull('bmc')
      .whereRaw(`bmc->>'type' <> 'manual'`)
      .whereExists(db('agents').whereRaw('agents.site_id = machines.site_id').select(db.raw('1')))
      .distinct('site_id');
    let queued = 0;
    for (const { site_id: siteId } of sites) {
      const done = await db.transaction(async (trx) => {
        const id = randomUUID();
        const inserted = await trx.raw(
          `insert into power_requests (id, site_id, action, state, requested_by)
           select ?, ?, 'poll', 'pending', 'system:power-poll'
           where not exists (select 1 from power_requests where site_id = ? and action = 'poll' and (state = 'pending' or created_at > now() - ? * interval '1 second'))
           on conflict (site_id) where action = 'poll' and state = 'pending' do nothing
           returning id`,
          [id, siteId, siteId, pollSeconds],
        );
        if (((inserted as { rows?: unknown[] }).rows ?? (inserted as unknown[])).length === 0) return false;
        const machines = await trx('machines')
          .where({ site_id: siteId })
          .whereNotNull('bmc')
          .whereRaw(`bmc->>'type' <> 'manual'`)
          .orderBy('hostname')
          .select('id');
        const targets: PowerTarget[] = [];
        for (const m of machines) targets.push(await powerTargetOf(trx, this.deps.sealer, m.id));
        const [outbox] = await trx('outbox')
          .insert({
            site_id: siteId,
            kind: 'power-poll',
            payload: JSON.stringify({ targets, concurrency: pollConcurrency, callTimeoutMs: this.callTimeoutMs, request: id }),
          })
          .returning('id');
        await trx('power_requests')
          .where({ id })
          .update({ outbox_id: outboxRowId(outbox) });
        return true;
      });
      if (done) queued++;
    }
    if (queued > 0) this.deps.afterDispatch();
    return queued;
  }
}

/** What a power work item's task.succeeded says, as far as it is one of ours. */
function answerOf(result: Record<string, unknown>): { state?: PowerState; note?: string; awaitsPerson?: string } {
  return {
    ...(typeof result.state === 'string' && powerStates.has(result.state) ? { state: result.state as PowerState } : {}),
    ...(typeof result.note === 'string' ? { note: result.note } : {}),
    ...(typeof result.awaitsPerson === 'string' ? { awaitsPerson: result.awaitsPerson } : {}),
  };
}
