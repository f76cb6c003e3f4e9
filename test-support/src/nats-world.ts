/**
 * Both halves of transport-nats as the kernel and the agent build them, against the NATS
 * server on 127.0.0.1:4222. Each world has its own random prefix, so its streams are its
 * own, and removes them in cleanup.
 */
import { randomBytes } from 'node:crypto';
import { Value } from 'typebox/value';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { AgentTransport, PluginContext, TransportProvider } from '@sprout/kernel';
import type { TransportWorld } from '@sprout/kernel/testing';
import plugin, { configSchema, natsNames, type NatsTransportConfig } from '@sprout/plugin-transport-nats';

export const natsUrl = process.env.SPROUT_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  fields: object;
  message?: string;
}

/** A logger that keeps what it is told, for assertions and for reading a failed run. */
export function memoryLogger(entries: LogEntry[] = []) {
  const at = (level: LogEntry['level']) => (fields: object, message?: string) => void entries.push({ level, fields, message });
  return {
    entries,
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: () => {},
    trace: () => {},
    fatal: at('error'),
    child: () => memoryLogger(entries),
  };
}

/** The plugin's config as the kernel would validate it: defaults filled in. */
export function pluginConfig(given: Partial<NatsTransportConfig> = {}): NatsTransportConfig {
  return Value.Default(configSchema, structuredClone(given)) as NatsTransportConfig;
}

/** The control-plane half, built the way the plugin host builds it: through `setup` and `provide`. */
export async function controlSide(url: string | undefined, config: NatsTransportConfig, logger = memoryLogger()): Promise<TransportProvider> {
  let factory: (() => TransportProvider | Promise<TransportProvider>) | undefined;
  const ctx = {
    id: 'transport-nats',
    config: { ...config, ...(url === undefined ? {} : { url }) },
    logger,
    provide: (_capability: unknown, make: () => TransportProvider) => {
      factory = make;
    },
  } as unknown as PluginContext<NatsTransportConfig>;
  await plugin.setup!(ctx);
  if (!factory) throw new Error('transport-nats provided no transport');
  return factory();
}

/** The agent half, given the settings the control plane sends at registration (its plugin config plus `url`). */
export async function agentSide(settings: Record<string, unknown>, siteId: string, agentId: string, logger = memoryLogger()): Promise<AgentTransport> {
  const part = await plugin.agent!();
  if (!part.transport) throw new Error('transport-nats has no agent transport');
  return part.transport({ controlPlaneUrl: 'http://127.0.0.1:7480', agentId, siteId, credential: 'unused-by-nats', settings, logger });
}

export function randomPrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

/** Deletes the streams of `prefix` (their consumers go with them). */
export async function removeStreams(prefix: string): Promise<void> {
  const nc = await connect({ servers: natsUrl.replace(/^nats:\/\//, '') });
  try {
    const jsm = await jetstreamManager(nc);
    const names = natsNames(prefix);
    for (const stream of [names.workStream, names.reportsStream, names.deadLetterStream, names.stateStream]) {
      await jsm.streams.delete(stream).catch(() => false);
    }
  } finally {
    await nc.close();
  }
}

/** Small ack wait and retry delay so redelivery and dead letters happen within a second or two. */
export async function natsWorld(given: Partial<NatsTransportConfig> = {}): Promise<TransportWorld & { logs: LogEntry[]; config: NatsTransportConfig }> {
  const config = pluginConfig({ prefix: randomPrefix(), ackWaitMs: 1_000, maxDeliver: 3, retryDelayMs: 200, ...given });
  const logger = memoryLogger();
  const sides: { close(): Promise<void> }[] = [];
  return {
    logs: logger.entries,
    config,
    settleMs: config.ackWaitMs + 500,
    async control() {
      const side = await controlSide(natsUrl, config, logger);
      sides.push(side);
      return side;
    },
    async agent(siteId, agentId) {
      const side = await agentSide({ ...config, url: natsUrl }, siteId, agentId, logger);
      sides.unshift(side);
      return side;
    },
    async cleanup() {
      for (const side of sides) await side.close();
      await removeStreams(config.prefix);
    },
  };
}

/** Waits (15 s at most) until `done()` holds; the NATS tests' one way of waiting for a delivery. */
export async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
