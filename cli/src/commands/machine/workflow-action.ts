/**
 * The shape shared by commands that start a workflow on a machine (commission, test,
 * deploy, release): post the action, print the workflow, and with --watch follow it
 * step by step, exiting non-zero unless it succeeds. Given several machines (or --tag)
 * it acts on each and reports per machine: a table (or a --json array), exit 1 if any
 * could not be started or, with --watch, did not succeed.
 */
import { SproutCommand, Option, ApiError, FlagInputError, table, ok, type ApiPaths, type ApiSchemas, type SproutClient } from '@sprout/kernel/cli';
import { followOutput, followWorkflow, workflowDetails } from '../../render/workflow.ts';
import { fetchPages } from '../../pages.ts';

/** The body of `POST /v1/machines/{id}/<action>`, as the route's schema says. */
export type ActionBody<A extends 'commission' | 'test' | 'deploy' | 'release'> = NonNullable<
  ApiPaths[`/v1/machines/{id}/${A}`]['post']['requestBody']
>['content']['application/json'];

export interface BulkOutcome {
  machine: string;
  ok: boolean;
  workflow: string | null;
  state: string | null;
  error: string | null;
}

export abstract class WorkflowActionCommand<B> extends SproutCommand {
  machines = Option.Rest({ name: 'machine' });
  tag = Option.String('--tag', { description: 'Act on every machine with this tag (with or instead of the machines named)' });
  watch = Option.Boolean('--watch', false, { description: 'Follow the workflow until it ends; exit 1 unless it succeeds' });

  abstract body(): B;
  /** Starts the action on one machine: each command posts to its own route, typed by it. */
  abstract start(api: SproutClient, id: string, body: B): Promise<ApiSchemas['schemas']['Workflow']>;

  async run() {
    const api = this.api();
    const named = [...this.machines];
    if (this.tag) {
      const tag = this.tag;
      const tagged = await fetchPages((cursor) => ok(api.typed.GET('/v1/machines', { params: { query: { tag, limit: 1000, cursor } } })), { all: true });
      if (tagged.items.length === 0) throw new FlagInputError('--tag', `"${this.tag}": no machine has this tag`);
      for (const m of tagged.items) if (!named.includes(m.hostname) && !named.includes(m.id)) named.push(m.hostname);
    }
    if (named.length === 0) throw new FlagInputError('machine', `is required: name one or more machines (id, hostname, MAC or short id), or give --tag`);
    const body = this.body(); // once: it may read standard input
    if (named.length === 1 && !this.tag) return this.single(named[0], body);

    const outcomes = await Promise.all(named.map((machine) => this.startOne(machine, body)));
    this.print(outcomes, () =>
      [
        table(
          ['MACHINE', 'WORKFLOW', 'STATE', 'ERROR'],
          outcomes.map((o) => [o.machine, o.workflow, o.state, o.error]),
        ),
        `${outcomes.filter((o) => o.ok).length} of ${outcomes.length} ${this.watch ? 'succeeded' : 'started'}`,
      ].join('\n'),
    );
    return outcomes.every((o) => o.ok) ? 0 : 1;
  }

  private async single(machine: string, body: B): Promise<number> {
    const api = this.api();
    const started = await this.start(api.typed, machine, body);
    if (!this.watch) {
      this.print(started, () => workflowDetails(started));
      return 0;
    }
    if (!this.json) this.context.stdout.write(`${started.kind} of ${started.machine?.hostname} started: workflow ${started.id}\n`);
    const out = followOutput(this.context.stdout, this.json);
    const end = await followWorkflow(api, started.id, out.write, { ticker: out.ticker });
    if (this.json) this.print(end, () => '');
    return end.state === 'succeeded' ? 0 : 1;
  }

  private async startOne(machine: string, body: B): Promise<BulkOutcome> {
    const api = this.api();
    try {
      const started = await this.start(api.typed, machine, body);
      const name = started.machine?.hostname ?? machine;
      if (!this.watch) return { machine: name, ok: true, workflow: started.id, state: started.state, error: null };
      const end = await followWorkflow(api, started.id, () => undefined);
      return { machine: name, ok: end.state === 'succeeded', workflow: end.id, state: end.state, error: end.error ?? null };
    } catch (err) {
      const message = err instanceof ApiError ? err.explain().split('\n').join(' ') : (err as Error).message;
      return { machine, ok: false, workflow: null, state: null, error: message };
    }
  }
}
