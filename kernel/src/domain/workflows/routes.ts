/**
 * Workflows under /v1/workflows: list, show with steps, cancel, and (operators) a deploy's
 * user-data. They start only through the machine action routes and site sync, which
 * validate and allocate; there is no generic "start any workflow" route.
 */
import Type from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { ServiceDeps } from '../../api/build-app.ts';
import { SproutError } from '../../errors/index.ts';
import { CursorParam } from '../../api/cursor.ts';
import { findMachine } from '../machines/find-machine.ts';
import { findSite } from '../sites/find-site.ts';
import { workflowStates } from './definitions.ts';
import { WorkflowSchema } from './schemas.ts';
import { secretValue } from './workflow-secrets.ts';

const Params = Type.Object({
  id: Type.String({
    minLength: 4,
    maxLength: 36,
    pattern: '^[0-9a-fA-F-]+$',
    description: 'Workflow id, or its first 4+ hex digits when they name one workflow',
  }),
});

export const workflowRoutes: FastifyPluginAsync<ServiceDeps<'audit' | 'db' | 'engine' | 'workflows'>> = async (
  app,
  { audit, db, engine, workflows, audited },
) => {
  app.get(
    '/workflows',
    {
      config: { auth: { role: 'viewer' } },
      schema: {
        tags: ['workflows'],
        summary: 'List workflows, newest first, a page at a time',
        querystring: Type.Object(
          {
            machine: Type.Optional(Type.String({ maxLength: 64 })),
            site: Type.Optional(Type.String({ maxLength: 64 })),
            kind: Type.Optional(Type.String({ maxLength: 32 })),
            state: Type.Optional(Type.Union(workflowStates.map((s) => Type.Literal(s)))),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
            cursor: CursorParam,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(WorkflowSchema),
            nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page' }),
          }),
        },
      },
    },
    async (request) => {
      const q = request.query as { machine?: string; site?: string; kind?: string; state?: string; limit?: number; cursor?: string };
      return workflows.list({
        ...q,
        machine: q.machine ? (await findMachine(db, q.machine)).id : undefined,
        site: q.site ? (await findSite(db, q.site)).id : undefined,
      });
    },
  );

  app.get(
    '/workflows/:id',
    {
      config: { auth: { role: 'viewer' } },
      schema: { tags: ['workflows'], summary: 'Show a workflow with its steps', params: Params, response: { 200: WorkflowSchema } },
    },
    async (request) => workflows.get((request.params as { id: string }).id),
  );

  app.get(
    '/workflows/:id/user-data',
    {
      config: { auth: { role: 'operator', action: 'workflow.user-data.read', target: 'workflow' } },
      schema: {
        tags: ['workflows'],
        summary: "A deploy's user-data, as the operator gave it (operators only; every read is audited)",
        params: Params,
        response: {
          200: Type.Object({
            workflow: Type.String({ format: 'uuid' }),
            userData: Type.String(),
            sha256: Type.String(),
            size: Type.Integer({ description: 'bytes' }),
          }),
        },
      },
    },
    async (request) => {
      const id = await workflows.resolveId((request.params as { id: string }).id);
      const secret = await secretValue(db, id, 'userData');
      if (!secret) throw new SproutError('SPROUT_ERR_NOT_FOUND', `workflow ${id} has no user-data`);
      const digest = { sha256: secret.sha256, size: Number(secret.size) };
      await audit.record({
        actor: request.principal.actor,
        actorRole: request.principal.role,
        action: 'workflow.user-data.read',
        targetType: 'workflow',
        targetId: id,
        requestId: String(request.id),
        sourceAddress: request.ip,
        outcome: 'success',
        details: digest,
      });
      return { workflow: id, userData: secret.value, ...digest };
    },
  );

  app.post(
    '/workflows/:id/cancel',
    {
      config: { auth: { role: 'operator', action: 'workflow.cancel', target: 'workflow' } },
      schema: {
        tags: ['workflows'],
        summary: 'Cancel at the next step boundary; the machine returns to where it started',
        params: Params,
        response: { 202: WorkflowSchema },
      },
    },
    async (request, reply) => {
      const id = await workflows.resolveId((request.params as { id: string }).id);
      await audited(request, async (trx) => {
        await workflows.requestCancel(trx, id, request.principal.actor);
        return { result: null, targetId: id, details: { cancelRequested: { old: false, new: true } } };
      });
      await engine.advance(id, { wait: true });
      return reply.status(202).send(await workflows.get(id));
    },
  );
};
