/** Workflows under /v1/workflows: start, list, show with steps, cancel. */
import Type from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { RouteDeps } from '../../api/build-app.ts';
import { SproutError } from '../../errors/index.ts';
import { findMachine } from '../machines/find-machine.ts';
import { findSite } from '../sites/find-site.ts';
import { workflowKinds, workflowStates, type WorkflowKind } from './definitions.ts';
import { WorkflowSchema } from './schemas.ts';

const Params = Type.Object({ id: Type.String({ format: 'uuid' }) });

export const workflowRoutes: FastifyPluginAsync<RouteDeps> = async (app, { kernel, audited }) => {
  const db = kernel.store.db;

  app.post(
    '/workflows',
    {
      config: { auth: { role: 'operator', action: 'workflow.create', target: 'workflow' } },
      schema: {
        tags: ['workflows'],
        summary: 'Start a workflow for a machine (the machine action routes do the same)',
        body: Type.Object(
          { kind: Type.Union(workflowKinds.map((k) => Type.Literal(k))), machine: Type.String({ minLength: 1, maxLength: 64 }), params: Type.Optional(Type.Record(Type.String(), Type.Unknown())) },
          { additionalProperties: false },
        ),
        response: { 202: WorkflowSchema },
      },
    },
    async (request, reply) => {
      const body = request.body as { kind: WorkflowKind; machine: string; params?: Record<string, unknown> };
      if (body.kind === 'deploy' && typeof body.params?.image !== 'string') {
        throw new SproutError('SPROUT_ERR_VALIDATION', 'a deploy workflow needs params.image', { details: [{ field: 'body/params/image', message: 'required for deploy' }] });
      }
      const id = await audited(request, async (trx) => {
        const machine = await findMachine(trx, body.machine, { forUpdate: true });
        const workflowId = await kernel.workflows.start(trx, { kind: body.kind, machine, params: body.params ?? {}, actor: request.principal.actor, requestId: String(request.id) });
        return { result: workflowId, targetId: workflowId, details: { kind: body.kind, machine: machine.hostname } };
      });
      return reply.status(202).send(await kernel.workflows.get(id));
    },
  );

  app.get(
    '/workflows',
    {
      config: { auth: { role: 'viewer' } },
      schema: {
        tags: ['workflows'],
        summary: 'List workflows, newest first',
        querystring: Type.Object(
          {
            machine: Type.Optional(Type.String({ maxLength: 64 })),
            site: Type.Optional(Type.String({ maxLength: 64 })),
            kind: Type.Optional(Type.String({ maxLength: 32 })),
            state: Type.Optional(Type.Union(workflowStates.map((s) => Type.Literal(s)))),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(WorkflowSchema) }) },
      },
    },
    async (request) => {
      const q = request.query as { machine?: string; site?: string; kind?: string; state?: string; limit?: number };
      return {
        items: await kernel.workflows.list({
          ...q,
          machine: q.machine ? (await findMachine(db, q.machine)).id : undefined,
          site: q.site ? (await findSite(db, q.site)).id : undefined,
        }),
      };
    },
  );

  app.get(
    '/workflows/:id',
    { config: { auth: { role: 'viewer' } }, schema: { tags: ['workflows'], summary: 'Show a workflow with its steps', params: Params, response: { 200: WorkflowSchema } } },
    async (request) => kernel.workflows.get((request.params as { id: string }).id),
  );

  app.post(
    '/workflows/:id/cancel',
    {
      config: { auth: { role: 'operator', action: 'workflow.cancel', target: 'workflow' } },
      schema: { tags: ['workflows'], summary: 'Cancel at the next step boundary; the machine returns to where it started', params: Params, response: { 202: WorkflowSchema } },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      await audited(request, async (trx) => {
        await kernel.workflows.requestCancel(trx, id, request.principal.actor);
        return { result: null, targetId: id, details: { cancelRequested: { old: false, new: true } } };
      });
      await kernel.engine.advance(id);
      return reply.status(202).send(await kernel.workflows.get(id));
    },
  );
};
