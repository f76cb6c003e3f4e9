/**
 * The agent half of transport-nats, named by package.json `"sprout": {"agent": …}`: the
 * site agent imports this module alone, and the NATS client (and the settings schema)
 * only when the control plane names this transport.
 */
import type { AgentPart } from '@sprout/kernel/sdk';

const agentPart: AgentPart = {
  // An agent host may carry its own NATS user (see docs/nats.md): its URL wins over the one the control plane sent.
  transport: async (options) => {
    const [{ createAgentTransport }, { withLocalNatsUrl }] = await Promise.all([import('./agent-transport.ts'), import('./settings.ts')]);
    return createAgentTransport({ ...options, settings: withLocalNatsUrl(options.settings, process.env.SPROUT_AGENT_NATS_URL) });
  },
};
export default agentPart;
