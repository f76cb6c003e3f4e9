/** Networks and IP allocations under /v1/networks. */
import type { FastifyPluginAsync } from 'fastify';
import type { RouteDeps } from '../../api/build-app.ts';

export const networkRoutes: FastifyPluginAsync<RouteDeps> = async () => {};
