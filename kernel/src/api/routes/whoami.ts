/** GET /v1/whoami: which principal a token resolves to (used by `sprout login`). */
import Type from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { ServiceDeps } from '../build-app.ts';

export const whoamiRoutes: FastifyPluginAsync<ServiceDeps<never>> = async (app) => {
  app.get(
    '/whoami',
    {
      config: { auth: { role: 'viewer' } },
      schema: {
        tags: ['tokens'],
        summary: 'The principal behind the bearer token',
        response: { 200: Type.Object({ actor: Type.String(), role: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (request) => ({ actor: request.principal.actor, role: request.principal.role }),
  );
};
