/** GET /v1/audit: the audit trail, newest first, filtered, with cursor pagination; POST /v1/audit/prune removes old records, audited. */
import Type from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { ServiceDeps } from '../build-app.ts';
import { SproutError } from '../../errors/index.ts';
import { CursorParam } from '../cursor.ts';
import type { MachineService } from '../../domain/machines/machine-service.ts';

export const AuditRecordSchema = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  actor: Type.String({ description: '`token:<name>`, `agent:<id>`, `system` or `anonymous`' }),
  actorRole: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  targetType: Type.Union([Type.String(), Type.Null()]),
  targetId: Type.Union([Type.String(), Type.Null()]),
  requestId: Type.Union([Type.String(), Type.Null()]),
  sourceAddress: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.Union([Type.Literal('success'), Type.Literal('denied'), Type.Literal('failed')]),
  details: Type.Record(Type.String(), Type.Unknown()),
});

const Query = Type.Object(
  {
    actor: Type.Optional(Type.String({ maxLength: 256 })),
    action: Type.Optional(Type.String({ maxLength: 128 })),
    targetType: Type.Optional(Type.String({ maxLength: 64 })),
    target: Type.Optional(
      Type.String({
        maxLength: 256,
        description: 'Target id; a machine is found by its id or its hostname alike (a refused request records what the URL named)',
      }),
    ),
    outcome: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('denied'), Type.Literal('failed')])),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'Only records at or after this time' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: CursorParam,
  },
  { additionalProperties: false },
);

const PruneBody = Type.Object(
  { before: Type.String({ format: 'date-time', description: 'Records written before this time are removed; it may not be in the future' }) },
  { additionalProperties: false },
);

export const auditRoutes: FastifyPluginAsync<ServiceDeps<'audit' | 'clock' | 'machines'>> = async (app, { audit, clock, machines, audited }) => {
  app.post(
    '/audit/prune',
    {
      config: { auth: { role: 'admin', action: 'audit.prune', target: 'audit' } },
      schema: {
        tags: ['audit'],
        summary: 'Remove audit records written before a time; the prune itself is recorded with how many it removed',
        body: PruneBody,
        response: { 200: Type.Object({ removed: Type.Integer(), before: Type.String({ format: 'date-time' }) }) },
      },
    },
    async (request) => {
      const before = new Date((request.body as { before: string }).before);
      if (before.getTime() > clock.now().getTime()) {
        throw new SproutError('SPROUT_ERR_VALIDATION', `before (${before.toISOString()}) is in the future; a prune removes only records already written`, {
          details: [{ field: 'body/before', message: 'must not be in the future' }],
        });
      }
      return audited(request, async (trx) => {
        const removed = await audit.prune(before, trx);
        return { result: { removed, before: before.toISOString() }, details: { removed, before: before.toISOString() } };
      });
    },
  );

  app.get(
    '/audit',
    {
      config: { auth: { role: 'viewer' } },
      schema: {
        tags: ['audit'],
        summary: 'List audit records, newest first',
        querystring: Query,
        response: { 200: Type.Object({ items: Type.Array(AuditRecordSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (request) => {
      const q = request.query as {
        actor?: string;
        action?: string;
        targetType?: string;
        target?: string;
        outcome?: 'success' | 'denied' | 'failed';
        since?: string;
        limit?: number;
        cursor?: string;
      };
      return audit.list({
        actor: q.actor,
        action: q.action,
        targetType: q.targetType,
        targetId: q.target ? await targetAliases(machines, q.target, q.targetType) : undefined,
        outcome: q.outcome,
        since: q.since ? new Date(q.since) : undefined,
        limit: q.limit,
        cursor: q.cursor,
      });
    },
  );
};

/**
 * The target ids a `target` filter means. A machine appears in the trail under its id
 * (successes) and under whatever the request's URL named it, often the hostname (denied
 * and failed requests, written before the machine was looked up): both are the machine.
 */
async function targetAliases(machines: MachineService, target: string, targetType: string | undefined): Promise<string[]> {
  if (targetType && targetType !== 'machine') return [target];
  const rows = await machines.namedBy(target);
  return [...new Set([target, ...rows.flatMap((r) => [r.id, r.hostname])])];
}
