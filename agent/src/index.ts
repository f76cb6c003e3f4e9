export { SiteAgent, agentVersion, type SiteAgentOptions } from './site-agent.ts';
export { RegistrationError } from './register.ts';
