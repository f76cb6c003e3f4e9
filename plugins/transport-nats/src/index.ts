/**
 * Agent transport over NATS JetStream, for production: durable work per site, reports
 * every control-plane replica shares, dead letters from the server's advisories. The
 * default transport when `plugins.transport-nats.url` is set (its manifest's
 * `"default": "url"`; SPROUT_NATS_URL sets it, its manifest's `"env"`); see docs/nats.md.
 */
import { definePlugin, transportCapability } from '@sprout/kernel/sdk';
import { configSchema, withLocalNatsUrl } from './settings.ts';
import { createControlPlaneTransport } from './control-plane-transport.ts';
import { createAgentTransport } from './agent-transport.ts';

export { configSchema, natsNames, type NatsTransportConfig, type NatsAgentSettings } from './settings.ts';
export { agentPermissions, type NatsPermissions } from './agent-permissions.ts';

export default definePlugin({
  id: 'transport-nats',
  configSchema,
  setup(ctx) {
    ctx.provide(transportCapability, () => createControlPlaneTransport({ url: ctx.config.url, config: ctx.config, logger: ctx.logger }));
  },
  agent: async () => ({
    // An agent host may carry its own NATS user (see docs/nats.md): its URL wins over the one the control plane sent.
    transport: (options) => createAgentTransport({ ...options, settings: withLocalNatsUrl(options.settings, process.env.SPROUT_AGENT_NATS_URL) }),
  }),
});
