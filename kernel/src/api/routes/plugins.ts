/** GET /v1/plugins: what is installed, what is active, and for which capability. */
import Type from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { ServiceDeps } from '../build-app.ts';

export const PluginStatusSchema = Type.Object({
  id: Type.String(),
  packageName: Type.String(),
  version: Type.String(),
  description: Type.String(),
  builtin: Type.Boolean(),
  active: Type.Boolean(),
  provides: Type.Array(Type.String()),
  consumes: Type.Array(Type.String()),
  activeFor: Type.Array(Type.String(), { description: 'Capabilities this plugin currently serves' }),
});

export const pluginRoutes: FastifyPluginAsync<ServiceDeps<'pluginStatus'>> = async (app, { pluginStatus }) => {
  app.get(
    '/plugins',
    {
      config: { auth: { role: 'viewer' } },
      schema: {
        tags: ['plugins'],
        summary: 'List installed plugins and the capabilities they serve',
        response: { 200: Type.Object({ items: Type.Array(PluginStatusSchema) }) },
      },
    },
    async () => ({ items: pluginStatus.map(({ dir: _dir, ...status }) => status) }),
  );
};
