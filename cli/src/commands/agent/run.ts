import type { AgentConfigFile } from '@sprout/agent';
import { SproutCommand, Command, Option, readFlagFile, readSecretOption, FlagInputError, maskUrls } from '@sprout/kernel/cli';

export class AgentRunCommand extends SproutCommand {
  static paths = [['agent', 'run']];
  static usage = Command.Usage({
    category: 'Sites',
    description: 'Run a site agent: join the site (first start) and serve it until stopped',
    details:
      'The first start trades the join token for a credential kept in the data directory (mode 0600); later starts reuse it and need no token. ' +
      'The join token comes from --join-token-file (a file, or - for standard input), --join-token, $SPROUT_JOIN_TOKEN or joinToken: in --config; ' +
      "the agent's own NATS URL from --nats-url-file, --nats-url, $SPROUT_AGENT_NATS_URL or natsUrl: in --config. " +
      'A value given as --join-token or --nats-url stays visible to every user of the machine in `ps` while the agent runs: prefer the file, standard input or the variable. ' +
      'An https:// control plane whose certificate a private CA signed needs that CA: --ca FILE, ca: in --config, or $SPROUT_CA. ' +
      'The config is checked before the join token is used: every bad field is named and the agent exits 1; so it does when a configured service cannot start (its error also reaches `sprout site show`). ' +
      'A config file (--config agent.yaml) may hold the same settings plus `services:` — the site services to run (dhcp, tftp, dns…) with their ports and interfaces; flags win over the file.',
    examples: [
      [
        'First start, the token in a file',
        'sprout agent run --control-plane http://10.0.0.5:7480 --join-token-file /etc/sprout/join-token --data-dir /var/lib/sprout-agent',
      ],
      [
        'First start, the token on standard input',
        'sprout site join-token fra1 --json | jq -r .token | sprout agent run --control-plane http://10.0.0.5:7480 --join-token-file -',
      ],
      ['Restart, services from a file', 'sprout agent run --config /etc/sprout/agent.yaml'],
    ],
  });

  configFile = Option.String('--config', { description: 'Agent config file (YAML): controlPlane, dataDir, services…' });
  controlPlane = Option.String('--control-plane', { description: 'URL of the Sprout API' });
  joinToken = Option.String('--join-token', {
    description:
      'One-time join token from `sprout site create` or `sprout site join-token` (visible in `ps`: prefer --join-token-file); - reads it from standard input',
  });
  joinTokenFile = Option.String('--join-token-file', { description: 'File holding the join token; - reads standard input' });
  dataDir = Option.String('--data-dir', { description: 'Where the agent keeps its identity, journal and state (default .sprout-agent)' });
  hostname = Option.String('--hostname', { description: 'Name shown for this agent (default: the host name)' });
  pluginDir = Option.String('--plugin-dir', { description: 'npm prefix of third-party plugins (default: <data-dir>/plugins)' });
  natsUrl = Option.String('--nats-url', {
    description:
      "This agent's own NATS URL, with its site's credentials (NATS transport; visible in `ps`: prefer --nats-url-file or SPROUT_AGENT_NATS_URL); - reads it from standard input",
  });
  natsUrlFile = Option.String('--nats-url-file', { description: "File holding this agent's own NATS URL; - reads standard input" });

  async run() {
    const file = this.configFile ? await readAgentConfig(this.configFile) : {};
    const controlPlane = this.controlPlane ?? file.controlPlane;
    if (!controlPlane) throw new FlagInputError('--control-plane', '(or controlPlane: in --config) is required: the URL of the Sprout API');
    if (!/^https?:\/\/[^\s/]+/.test(controlPlane))
      throw new FlagInputError('--control-plane', `must be the http:// or https:// URL of the Sprout API, got ${JSON.stringify(controlPlane)}`);
    const warn = (line: string) => this.context.stderr.write(`${line}\n`);
    if ([this.joinToken, this.joinTokenFile, this.natsUrl, this.natsUrlFile].filter((v) => v === '-').length > 1) {
      throw new FlagInputError('-', 'is given to more than one flag: standard input can be read once');
    }
    const joinToken =
      readSecretOption({
        flag: '--join-token',
        value: this.joinToken,
        fileFlag: '--join-token-file',
        file: this.joinTokenFile,
        envVar: 'SPROUT_JOIN_TOKEN',
        warn,
      }) ?? file.joinToken;
    // SPROUT_AGENT_NATS_URL is read by the NATS transport itself (docs/nats.md); a flag or file here wins over the URL the control plane sent.
    const natsUrl = readSecretOption({ flag: '--nats-url', value: this.natsUrl, fileFlag: '--nats-url-file', file: this.natsUrlFile, warn }) ?? file.natsUrl;
    const { SiteAgent } = await import('@sprout/agent');
    const { default: pino } = await import('pino');
    // Whatever the agent or a plugin logs, URLs in it are masked (a control-plane or NATS URL may carry credentials);
    // a log that cannot be written (full disk) never stops the agent.
    const { logDestination } = await import('@sprout/kernel/sdk');
    const logger = pino(
      { base: { service: 'sprout-agent' }, level: process.env.SPROUT_LOG_LEVEL ?? 'info', hooks: { streamWrite: maskUrls } },
      logDestination(),
    );
    const agent = new SiteAgent({
      controlPlaneUrl: controlPlane,
      joinToken,
      dataDir: this.dataDir ?? file.dataDir ?? '.sprout-agent',
      hostname: this.hostname ?? file.hostname,
      pluginDir: this.pluginDir ?? file.pluginDir,
      transportSettings: natsUrl ? { agentUrl: natsUrl } : undefined,
      services: file.services ?? undefined,
      ca: this.ca ?? file.ca ?? (process.env.SPROUT_CA || undefined),
      metrics: file.metrics,
      logger,
    });
    await agent.start();
    // A configured service that could not start (a port taken, an interface missing) is not "running":
    // the heartbeat already carried each service's state and error to `sprout site show`; exit so a supervisor sees it.
    const failed = Object.entries(agent.failedServices());
    if (failed.length > 0) {
      logger.error({ services: Object.fromEntries(failed) }, 'sprout agent stops: configured site services could not start');
      await agent.stop();
      this.context.stderr.write(
        `error: ${failed.length} configured site service(s) could not start (reported to the control plane: see \`sprout site show\`):\n${failed.map(([name, error]) => `  - services.${name}: ${error}`).join('\n')}\n`,
      );
      return 1;
    }
    logger.info({ agent: agent.identity.agentId, site: agent.identity.siteName, transport: agent.identity.transport.plugin }, 'sprout agent is running');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await agent.stop();
    return 0;
  }
}

async function readAgentConfig(path: string): Promise<AgentConfigFile> {
  const text = readFlagFile('--config', path);
  let parsed: unknown;
  try {
    parsed = (await import('yaml')).parse(text) ?? {};
  } catch (err) {
    throw new FlagInputError('--config', `${path}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new FlagInputError('--config', `${path}: must hold a mapping of settings`);
  const { agentConfigProblems, refuseConfig } = await import('@sprout/agent');
  refuseConfig(`agent config ${path}`, agentConfigProblems(parsed));
  return parsed as AgentConfigFile;
}
