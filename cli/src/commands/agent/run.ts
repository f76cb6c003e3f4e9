import { SproutCommand, Command, Option } from '@sprout/kernel/cli';

export class AgentRunCommand extends SproutCommand {
  static paths = [['agent', 'run']];
  static usage = Command.Usage({
    category: 'Sites',
    description: "Run a site agent: join the site (first start) and serve it until stopped",
    details: 'The first start trades --join-token for a credential kept in the data directory (mode 0600); later starts reuse it and need no token.',
    examples: [['First start', 'sprout agent run --control-plane http://10.0.0.5:7480 --join-token sprout_join_… --data-dir /var/lib/sprout-agent'], ['Restart', 'sprout agent run --control-plane http://10.0.0.5:7480 --data-dir /var/lib/sprout-agent']],
  });

  controlPlane = Option.String('--control-plane', { required: true, description: 'URL of the Sprout API' });
  joinToken = Option.String('--join-token', { description: 'One-time join token from `sprout site create` or `sprout site join-token`' });
  dataDir = Option.String('--data-dir', '.sprout-agent', { description: 'Where the agent keeps its identity, journal and state' });
  hostname = Option.String('--hostname', { description: 'Name shown for this agent (default: the host name)' });
  pluginDir = Option.String('--plugin-dir', { description: 'npm prefix of third-party plugins (default: <data-dir>/plugins)' });
  natsUrl = Option.String('--nats-url', { description: "This agent's own NATS URL, with its site's credentials (NATS transport)" });

  async run() {
    const { SiteAgent } = await import('@sprout/agent');
    const { default: pino } = await import('pino');
    const logger = pino({ base: { service: 'sprout-agent' }, level: process.env.SPROUT_LOG_LEVEL ?? 'info' });
    const agent = new SiteAgent({ controlPlaneUrl: this.controlPlane, joinToken: this.joinToken, dataDir: this.dataDir, hostname: this.hostname, pluginDir: this.pluginDir, transportSettings: this.natsUrl ? { agentUrl: this.natsUrl } : undefined, logger });
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
