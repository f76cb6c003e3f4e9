export { SiteAgent, agentVersion, type SiteAgentOptions } from './site-agent.ts';
export { RegistrationError } from './register.ts';
export { agentConfigProblems, serviceSettingsProblems, refuseConfig, type AgentConfigFile } from './agent-config.ts';
