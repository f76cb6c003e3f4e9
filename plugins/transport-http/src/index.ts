/**
 * Agent transport over HTTP long-poll: the zero-dependency default. Work waits in the
 * kernel's outbox, leased from there; agents poll for it through this plugin's agent
 * routes (agent-routes.ts), which the kernel mounts under /v1/agents/:id/.
 */
import Type from 'typebox';
import { definePlugin, transportCapability } from '@sprout/kernel/sdk';
import { HttpWorkQueue } from './work-queue.ts';
import { registerAgentRoutes } from './agent-routes.ts';

export const configSchema = Type.Object(
  {
    ackWaitMs: Type.Integer({ minimum: 100, default: 60_000, description: 'lease of a delivered item before it is delivered again' }),
    maxDeliver: Type.Integer({ minimum: 1, default: 5, description: 'deliveries before an item goes to the dead-letter path' }),
    pollIntervalMs: Type.Integer({
      minimum: 10,
      default: 5000,
      description: 'how long a waiting long-poll sleeps at most before it looks for work again without being woken (new work wakes it at once)',
    }),
    waitSeconds: Type.Integer({ minimum: 0, maximum: 60, default: 25, description: 'how long agents long-poll' }),
  },
  { additionalProperties: false },
);

export default definePlugin({
  id: 'transport-http',
  configSchema,
  migrations: new URL('../migrations/', import.meta.url).pathname,
  setup(ctx) {
    ctx.provide(transportCapability, () => new HttpWorkQueue(ctx.workQueue, ctx.config, ctx.logger));
    registerAgentRoutes(ctx);
  },
  agent: async () => (await import('./agent-part.ts')).default,
});
