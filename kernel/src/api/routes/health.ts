/** Liveness and readiness probes: public, cheap, JSON. */
import Type from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { ServiceDeps } from '../build-app.ts';

const Check = Type.Object({ ok: Type.Boolean(), detail: Type.Optional(Type.String()) });

export const healthRoutes: FastifyPluginAsync<ServiceDeps<'readiness'>> = async (app, { readiness }) => {
  app.get(
    '/healthz',
    {
      config: { auth: { role: 'public' } },
      schema: {
        tags: ['health'],
        summary: 'The process is alive',
        response: { 200: Type.Object({ status: Type.Literal('ok'), uptimeSeconds: Type.Number() }) },
      },
    },
    async () => ({ status: 'ok' as const, uptimeSeconds: Math.round(process.uptime()) }),
  );

  app.get(
    '/readyz',
    {
      config: { auth: { role: 'public' } },
      schema: {
        tags: ['health'],
        summary: 'The database is reachable and migrations are current',
        response: {
          200: Type.Object({ status: Type.Literal('ready'), checks: Type.Record(Type.String(), Check) }),
          503: Type.Object({ status: Type.Literal('not_ready'), checks: Type.Record(Type.String(), Check) }),
        },
      },
    },
    async (_request, reply) => {
      const { ready, checks } = await readiness();
      if (!ready) return reply.status(503).send({ status: 'not_ready' as const, checks });
      return { status: 'ready' as const, checks };
    },
  );
};
