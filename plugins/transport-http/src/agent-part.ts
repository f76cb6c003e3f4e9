/**
 * The agent half of transport-http, named by package.json `"sprout": {"agent": …}`: the
 * site agent imports this module alone, never the plugin's entry and its config schema.
 */
import type { AgentPart } from '@sprout/kernel/sdk';
import { httpAgentTransport } from './agent-client.ts';

const agentPart: AgentPart = { transport: httpAgentTransport };
export default agentPart;
