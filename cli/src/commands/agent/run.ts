import { readFileSync } from 'node:fs';
import { SproutCommand, Command, Option } from '@sprout/kernel/cli';

interface AgentConfigFile {
  controlPlane?: string;
  joinToken?: string;
  dataDir?: string;
  hostname?: string;
  pluginDir?: string;
  natsUrl?: string;
  services?: Record<string, Record<string, unknown>>;
}

export class AgentRunCommand extends SproutCommand {
  static paths = [['agent', 'run']];
  static usage = Command.Usage({
    category: 'Sites',
    description: 'Run a site agent: join the site (first start) and serve it until stopped',
    details:
      'The first start trades --join-token for a credential kept in the data directory (mode 0600); later starts reuse it and need no token. ' +
      'A config file (--config agent.yaml) may hold the same settings plus `services:` — the site services to run (dhcp, tftp, dns…) with their ports and interfaces; flags win over the file.',
    examples: [
      ['First start', 'sprout agent run --control-plane http://10.0.0.5:7480 --join-token sprout_join_… --data-dir /var/lib/sprout-agent'],
      ['Restart, services from a file', 'sprout agent run --config /etc/sprout/agent.yaml'],
    ],
  });

  configFile = Option.String('--config', { description: 'Agent config file (YAML): controlPlane, dataDir, services…' });
  controlPlane = Option.String('--control-plane', { description: 'URL of the Sprout API' });
  joinToken = Option.String('--join-token', { description: 'One-time join token from `sprout site create` or `sprout site join-token`' });
  dataDir = Option.String('--data-dir', { description: 'Where the agent keeps its identity, journal and state (default .sprout-agent)' });
  hostname = Option.String('--hostname', { description: 'Name shown for this agent (default: the host name)' });
  pluginDir = Option.String('--plugin-dir', { description: 'npm prefix of third-party plugins (default: <data-dir>/plugins)' });
  natsUrl = Option.String('--nats-url', { description: "This agent's own NATS URL, with its site's credentials (NATS transport)" });

  async run() {
    const file: AgentConfigFile = this.configFile ? ((await import('yaml')).parse(readFileSync(this.configFile, 'utf8')) ?? {}) : {};
    const controlPlane = this.controlPlane ?? file.controlPlane;
    if (!controlPlane) throw new Error('--control-plane (or controlPlane: in --config) is required: the URL of the Sprout API');
    const natsUrl = this.natsUrl ?? file.natsUrl;
    const { SiteAgent } = await import('@sprout/agent');
    const { default: pino } = await import('pino');
    const { logDestination } = await import('@sprout/kernel');
    const logger = pino({ base: { service: 'sprout-agent' }, level: process.env.SPROUT_LOG_LEVEL ?? 'info' }, logDestination());
    const agent = new SiteAgent({
      controlPlaneUrl: controlPlane,
      joinToken: this.joinToken ?? file.joinToken,
      dataDir: this.dataDir ?? file.dataDir ?? '.sprout-agent',
      hostname: this.hostname ?? file.hostname,
      pluginDir: this.pluginDir ?? file.pluginDir,
      transportSettings: natsUrl ? { agentUrl: natsUrl } : undefined,
      services: file.services,
      logger,
    });
    await agent.start();
    logger.info({ agent: agent.identity.agentId, site: agent.identity.siteName, transport: agent.identity.transport.plugin }, 'sprout agent is running');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await agent.stop();
    return 0;
  }
}
