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
          {
            kind: Type.Union(workflowKinds.map((k) => Type.Literal(k))),
            machine: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Machine id or hostname (machine workflows)' })),
            site: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Site id or name (sync-site)' })),
            params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          },
          { additionalProperties: false },
        ),
        response: { 202: WorkflowSchema },
      },
    },
    async (request, reply) => {
      const body = request.body as { kind: WorkflowKind; machine?: string; site?: string; params?: Record<string, unknown> };
      if (body.kind === 'sync-site') {
        if (!body.site) throw new SproutError('SPROUT_ERR_VALIDATION', 'a sync-site workflow needs site', { details: [{ field: 'body/site', message: 'required for sync-site' }] });
        const site = await findSite(db, body.site);
        const id = await audited(request, async (trx) => ({ result: await kernel.workflows.startForSite(trx, { kind: 'sync-site', siteId: site.id, actor: request.principal.actor }), targetId: site.id, details: { kind: 'sync-site', site: site.name } }));
        return reply.status(202).send(await kernel.workflows.get(id));
      }
      if (!body.machine) throw new SproutError('SPROUT_ERR_VALIDATION', `a ${body.kind} workflow needs machine`, { details: [{ field: 'body/machine', message: `required for ${body.kind}` }] });
      const machineRef = body.machine;
      if (body.kind === 'deploy' && typeof body.params?.image !== 'string') {
        throw new SproutError('SPROUT_ERR_VALIDATION', 'a deploy workflow needs params.image', { details: [{ field: 'body/params/image', message: 'required for deploy' }] });
      }
      const id = await audited(request, async (trx) => {
        const machine = await findMachine(trx, machineRef, { forUpdate: true });
        const workflowId = await kernel.workflows.start(trx, { kind: body.kind as Exclude<WorkflowKind, 'sync-site'>, machine, params: body.params ?? {}, actor: request.principal.actor, requestId: String(request.id) });
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
      await kernel.engine.advance(id, { wait: true });
      return reply.status(202).send(await kernel.workflows.get(id));
    },
  );
};
