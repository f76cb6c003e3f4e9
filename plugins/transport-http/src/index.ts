/**
 * Agent transport over HTTP long-poll. Work delivery lands with the site agent; until
 * then publishing says so explicitly and health reports the transport as not connected.
 */
import { definePlugin, notImplemented, transportCapability, type TransportProvider } from '@sprout/kernel';

const id = 'transport-http';

export default definePlugin({
  id,
  setup(ctx) {
    ctx.provide(transportCapability, (): TransportProvider => ({
      publishWork: () => Promise.reject(notImplemented(id, 'publishWork', 'work delivery arrives with the site agent')),
      onReport: () => Promise.reject(notImplemented(id, 'onReport', 'agent reports arrive with the site agent')),
      onDeadLetter: () => Promise.reject(notImplemented(id, 'onDeadLetter', 'agent reports arrive with the site agent')),
      health: () => ({ connected: false, detail: 'agent transport not implemented yet' }),
      close: async () => {},
    }));
  },
});
