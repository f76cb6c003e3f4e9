/**
 * Agent transport over NATS JetStream, for production: durable work per site, reports
 * every control-plane replica shares, dead letters from the server's advisories. The
 * default transport when `plugins.transport-nats.url` is set (its manifest's
 * `"default": "url"`; SPROUT_NATS_URL sets it, its manifest's `"env"`); see docs/nats.md.
 */
import { definePlugin, transportCapability } from '@sprout/kernel/sdk';
import { configSchema } from './settings.ts';
import { createControlPlaneTransport } from './control-plane-transport.ts';

export { configSchema, natsNames, type NatsTransportConfig, type NatsAgentSettings } from './settings.ts';
export { agentPermissions, type NatsPermissions } from './agent-permissions.ts';

export default definePlugin({
  id: 'transport-nats',
  configSchema,
  setup(ctx) {
    ctx.provide(transportCapability, () => createControlPlaneTransport({ url: ctx.config.url, config: ctx.config, logger: ctx.logger }));
  },
  agent: async () => (await import('./agent-part.ts')).default,
});
