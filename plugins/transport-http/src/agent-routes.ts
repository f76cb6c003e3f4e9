/**
 * The HTTP transport's agent routes: agents long-poll `GET /v1/agents/{id}/work`, settle
 * it with `POST …/work/settle` and post reports to `POST …/reports`. The kernel mounts them
 * and authenticates the caller as the agent `{id}`; these routes only ever act for the
 * caller's own site, and refuse (audited) a report naming another agent or site.
 */
import Type from 'typebox';
import { SproutError, reportProblem, transportCapability, type AgentReport, type PluginContext } from '@sprout/kernel/sdk';
import { HttpWorkQueue, type AgentHttpEndpoint } from './work-queue.ts';

const WorkItemSchema = Type.Object({
  id: Type.String(),
  siteId: Type.String(),
  kind: Type.String(),
  workflowId: Type.Union([Type.String(), Type.Null()]),
  stepId: Type.Union([Type.String(), Type.Null()]),
  payload: Type.Record(Type.String(), Type.Unknown()),
});

const ReportSchema = Type.Object(
  {
    agentId: Type.String({ format: 'uuid' }),
    siteId: Type.String({ format: 'uuid' }),
    sequence: Type.Integer({ minimum: 1 }),
    kind: Type.String({ minLength: 1, maxLength: 64 }),
    workItemId: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
    at: Type.String({ format: 'date-time' }),
    payload: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);

export function registerAgentRoutes(ctx: PluginContext): void {
  /** The endpoint the calls go to; 409 while another transport serves this control plane's agents. */
  const endpoint = async (): Promise<AgentHttpEndpoint> => {
    const own = await ctx.ownProvider(transportCapability);
    if (!(own instanceof HttpWorkQueue)) {
      throw new SproutError(
        'SPROUT_ERR_CONFLICT',
        'this control plane hands work to agents through another transport, not HTTP; restart the agent so it picks the transport up at registration',
      );
    }
    return own;
  };

  ctx.agentRoutes(async (app) => {
    app.get(
      '/work',
      {
        config: { auth: { role: 'agent' } },
        schema: {
          tags: ['agents'],
          summary: "Long-poll the agent's site for work (HTTP transport)",
          querystring: Type.Object({ wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 60, default: 25 })) }, { additionalProperties: false }),
          response: {
            200: Type.Object({
              items: Type.Array(Type.Object({ item: WorkItemSchema, delivery: Type.Object({ attempt: Type.Integer(), maxAttempts: Type.Integer() }) })),
            }),
          },
        },
      },
      async (request, reply) => {
        const http = await endpoint();
        const wait = (request.query as { wait?: number }).wait ?? 25;
        const hungUp = new AbortController();
        reply.raw.once('close', () => hungUp.abort());
        const items = await http.pollWork(ctx.agentOf(request).siteId, wait * 1000, hungUp.signal);
        return {
          items: items.map(({ item, delivery }) => ({ item: { ...item, workflowId: item.workflowId ?? null, stepId: item.stepId ?? null }, delivery })),
        };
      },
    );

    app.post(
      '/work/settle',
      {
        config: { auth: { role: 'agent', action: 'agent.work.settle', target: 'agent', audit: false } },
        schema: {
          tags: ['agents'],
          summary: 'Acknowledge work (ack), give it back for redelivery (nak), or extend its lease while still working on it (HTTP transport)',
          body: Type.Object(
            {
              ids: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 500 }),
              outcome: Type.Union([Type.Literal('ack'), Type.Literal('nak'), Type.Literal('working')]),
            },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ settled: Type.Integer() }) },
        },
      },
      async (request) => {
        const body = request.body as { ids: string[]; outcome: 'ack' | 'nak' | 'working' };
        await (await endpoint()).settleWork(ctx.agentOf(request).siteId, body.ids, body.outcome);
        return { settled: body.ids.length };
      },
    );

    app.post(
      '/reports',
      {
        config: { auth: { role: 'agent', action: 'agent.reports', target: 'agent', audit: false } },
        schema: {
          tags: ['agents'],
          summary: 'Post a batch of reports, in sequence order (HTTP transport); each is applied once',
          body: Type.Object({ reports: Type.Array(ReportSchema, { minItems: 1, maxItems: 500 }) }, { additionalProperties: false }),
          response: { 200: Type.Object({ accepted: Type.Integer() }) },
        },
      },
      async (request) => {
        const { reports } = request.body as { reports: AgentReport[] };
        const caller = ctx.agentOf(request);
        const foreign = reports.find((r) => r.agentId !== caller.agentId || r.siteId !== caller.siteId);
        if (foreign) {
          await ctx.audit.record(
            { outcome: 'denied', targetId: foreign.agentId, details: { reason: 'report for another agent or site', siteId: foreign.siteId } },
            request,
          );
          throw new SproutError('SPROUT_ERR_FORBIDDEN', `${caller.actor} may only report for itself and its site`);
        }
        // Checked before anything is stored: retrying a malformed report cannot make it valid.
        const malformed = reports.map((report, index) => ({ index, problem: reportProblem(report) })).find((r) => r.problem);
        if (malformed?.problem) {
          const field = `body/reports/${malformed.index}${malformed.problem.field}`;
          throw new SproutError('SPROUT_ERR_VALIDATION', `body is invalid: ${field} ${malformed.problem.message}`, {
            details: [{ field, message: malformed.problem.message }],
          });
        }
        const channelSiteId = caller.siteId;
        await (await endpoint()).acceptReports([...reports].sort((a, b) => a.sequence - b.sequence).map((report) => ({ ...report, channelSiteId })));
        return { accepted: reports.length };
      },
    );
  });
}
