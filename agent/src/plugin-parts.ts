/**
 * Loads the agent-side parts of the installed plugins: the transport the control plane
 * named at registration, every plugin's task kinds and site services, and the power
 * drivers by the `bmc.type` they serve.
 */
import { importAgentPart } from '@sprout/kernel/sdk';
import { discoverPlugins } from '@sprout/kernel/discovery';
import { builtinPlugins } from './builtin-plugins.ts';
import type { AgentPart, AgentServiceFactory, AgentTask, AgentTransportFactory, PowerDriver } from '@sprout/kernel/sdk';

export async function loadAgentParts(
  transportPlugin: string,
  pluginDir: string,
): Promise<{
  transport: AgentTransportFactory;
  tasks: Map<string, AgentTask>;
  services: Map<string, AgentServiceFactory>;
  power: Map<string, PowerDriver>;
  problems: string[];
}> {
  const { plugins } = discoverPlugins(builtinPlugins, pluginDir);
  const tasks = new Map<string, AgentTask>();
  const services = new Map<string, AgentServiceFactory>();
  const power = new Map<string, PowerDriver>();
  const problems: string[] = [];
  let transport: AgentTransportFactory | undefined;
  for (const manifest of plugins) {
    let part: AgentPart | undefined;
    try {
      part = await importAgentPart(manifest);
    } catch (err) {
      problems.push(`plugin ${manifest.id}: ${(err as Error).message}`);
      continue;
    }
    if (!part) continue;
    if (manifest.id === transportPlugin) transport = part.transport;
    for (const [name, task] of Object.entries(part.tasks ?? {})) tasks.set(name, task);
    for (const [name, service] of Object.entries(part.services ?? {})) services.set(name, service);
    for (const [type, driver] of Object.entries(part.power ?? {})) {
      if (power.has(type)) problems.push(`plugin ${manifest.id}: power driver "${type}" is already provided by another plugin; keeping the first`);
      else power.set(type, driver);
    }
  }
  if (!transport) {
    throw new Error(
      `the control plane uses transport ${transportPlugin}, which this agent does not have (install @sprout/plugin-${transportPlugin} next to the agent)`,
    );
  }
  return { transport, tasks, services, power, problems };
}
