/**
 * Runs the work the control plane delegates, through a registry of task kinds (builtin
 * ones and those plugins contribute); the transport decides how many items run at once.
 * Every item is reported — started, log lines, succeeded with its result or failed with
 * its error — and an item already completed is not run again when the transport delivers
 * it twice. Before an item counts as done (and the transport acknowledges it), what its
 * task changed and its reports are on disk: once per event-loop turn for all the items
 * finishing in it.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentTask, AgentTaskContext, DeliveryInfo, SiteDesiredState, WorkItem } from '@sprout/kernel/sdk';
import type { ReportJournal } from './report-journal.ts';
import { deferred } from './machine-waits.ts';

export class TaskExecutor {
  private readonly done = new Set<string>();
  private readonly doneFile: string;
  /** Items finished this turn, marked done on disk at its end. */
  private finishing: string[] = [];
  private durable: Promise<void> | undefined;
  readonly running = new Map<string, { item: WorkItem; since: Date }>();

  constructor(
    private readonly deps: {
      dataDir: string;
      tasks: Map<string, AgentTask>;
      journal: ReportJournal;
      desiredState: () => SiteDesiredState;
      /** Puts on disk what tasks changed (desired state, machine waits); throws when it cannot. */
      persist: () => void;
      logger: { info(o: object, m?: string): void; warn(o: object, m?: string): void };
      /** Resolves once the agent serves the site's desired-state `revision` or a later one; throws when it cannot in time. */
      reachRevision?: (revision: number) => Promise<void>;
      /** Told of each item's end here: succeeded, failed, or deferred (it ends when its machine calls back). */
      observe?: (task: string, outcome: 'succeeded' | 'failed' | 'deferred') => void;
    },
  ) {
    this.doneFile = join(deps.dataDir, 'completed-work.jsonl');
    if (existsSync(this.doneFile)) for (const id of readFileSync(this.doneFile, 'utf8').split('\n').filter(Boolean)) this.done.add(id);
  }

  /** Task kinds this agent runs, for its heartbeat. */
  kinds(): string[] {
    return [...this.deps.tasks.keys()].sort();
  }

  /** The transport's work handler: resolving acknowledges the item. */
  async handle(item: WorkItem, delivery: DeliveryInfo): Promise<void> {
    // Every line about a workflow's work names the workflow (and its machine), so one grep follows it.
    const about = {
      item: item.id,
      ...(item.payload.workflow ? { workflow: String(item.payload.workflow) } : {}),
      ...(item.payload.machine ? { machine: String(item.payload.machine) } : {}),
    };
    if (this.done.has(item.id)) {
      this.deps.logger.info(about, 'work item already completed; acknowledging the redelivery');
      return;
    }
    const { journal } = this.deps;
    const taskName = item.kind === 'workflow-step' ? String(item.payload.step) : item.kind;
    this.deps.logger.info({ ...about, task: taskName, attempt: delivery.attempt }, `work item ${taskName} started`);
    const task = this.deps.tasks.get(taskName);
    this.running.set(item.id, { item, since: new Date() });
    journal.add(
      'task.started',
      { task: taskName, attempt: delivery.attempt, log: [`agent started ${taskName} (delivery ${delivery.attempt}/${delivery.maxAttempts})`] },
      item.id,
    );
    const ctx: AgentTaskContext = {
      log: (line) => journal.add('task.log', { log: [line] }, item.id),
      report: (kind, payload) => journal.add(kind, payload, item.id),
      dataDir: this.deps.dataDir,
      desiredState: this.deps.desiredState,
    };
    try {
      if (!task) throw new Error(`this agent has no task for ${taskName}; it runs: ${this.kinds().join(', ') || 'nothing'}`);
      // A workflow step runs on the desired state the control steps before it wrote.
      const { siteRevision } = item.payload;
      if (typeof siteRevision === 'number' && this.deps.reachRevision) {
        const since = Date.now();
        await this.deps.reachRevision(siteRevision);
        if (Date.now() - since >= 100) ctx.log(`waited ${Date.now() - since} ms for desired-state revision ${siteRevision}`);
      }
      const result = await task(item, ctx);
      // A deferred task finishes later, when the machine it waits for reports.
      // The log lines went out as task.log already (journaled): the final report does not repeat them.
      if (result !== deferred) journal.add('task.succeeded', { result, log: [] }, item.id);
      this.deps.observe?.(taskName, result === deferred ? 'deferred' : 'succeeded');
      this.deps.logger.info(
        { ...about, task: taskName },
        result === deferred ? `work item ${taskName} waits for its machine` : `work item ${taskName} succeeded`,
      );
    } catch (err) {
      // A power failure says why (auth, unreachable, timeout…) beside the BMC's own words.
      const reason = (err as { reason?: unknown }).reason;
      journal.add('task.failed', { error: (err as Error).message, ...(typeof reason === 'string' ? { reason } : {}), log: [] }, item.id);
      this.deps.observe?.(taskName, 'failed');
      this.deps.logger.warn({ ...about, task: taskName, err: (err as Error).message }, `work item ${taskName} failed`);
    } finally {
      this.running.delete(item.id);
    }
    await this.markDone(item.id);
  }

  /**
   * What the item changed and its reports go to disk first: a crash in between runs the item
   * again (its reports for a finished step change nothing), and never leaves it done with
   * its outcome unreported or its state lost.
   */
  private markDone(id: string): Promise<void> {
    this.finishing.push(id);
    this.durable ??= new Promise<void>((resolve, reject) =>
      setImmediate(() => {
        const ids = this.finishing;
        this.finishing = [];
        this.durable = undefined;
        try {
          this.deps.persist();
          this.deps.journal.writeOut();
          appendFileSync(this.doneFile, ids.map((doneId) => `${doneId}\n`).join(''), { mode: 0o600 });
          for (const doneId of ids) this.done.add(doneId);
          resolve();
        } catch (err) {
          reject(err);
        }
      }),
    );
    return this.durable;
  }
}
