/**
 * The agent's half: consumes its site's work through the durable consumer
 * `agent-<siteId>` (filtered to `<prefix>.work.<siteId>`) and publishes reports to
 * `<prefix>.reports.<siteId>`, each deduplicated by `<agentId>:<sequence>`. It needs no
 * right to create streams: the control plane made them. It connects in the background,
 * so an agent starts (and serves its site) while NATS is unreachable.
 */
import { jetstream } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { AgentReport, AgentTransport, AgentTransportFactory } from '@sprout/kernel';
import { NatsLink } from './nats-link.ts';
import { InOrderConsumer } from './in-order-consumer.ts';
import { natsNames, readAgentSettings } from './settings.ts';
import { ensureConsumer } from './streams.ts';
import { readWorkItem } from './messages.ts';

export const createAgentTransport: AgentTransportFactory = async ({ agentId, siteId, settings: sent, logger }) => {
  const settings = readAgentSettings(sent);
  const names = natsNames(settings.prefix);
  const workSubject = names.workSubject(siteId);
  const reportSubject = names.reportSubject(siteId);
  const durable = names.agentConsumer(siteId);
  const link = new NatsLink({ url: settings.url, name: `sprout-agent-${agentId}`, urlKey: 'settings.url', inboxPrefix: names.agentInboxPrefix(siteId) });
  let work: InOrderConsumer | undefined;
  let workHandler: Parameters<AgentTransport['consumeWork']>[0] | undefined;

  void (async () => {
    let failures = 0;
    while (!link.connected && !link.closed) {
      try {
        await link.connection();
      } catch (err) {
        if (++failures === 1) logger.warn({ err, url: link.url }, 'transport-nats: cannot reach NATS yet; the agent keeps trying');
        await new Promise((resolve) => setTimeout(resolve, 1_000).unref());
      }
    }
  })();

  return {
    async consumeWork(handler) {
      // Calling again replaces the handler; there is one consumer loop per agent.
      workHandler = handler;
      if (work) return;
      work = new InOrderConsumer({
        link,
        stream: names.workStream,
        durable,
        ensure: (jsm) =>
          ensureConsumer(jsm, names.workStream, {
            durable_name: durable,
            description: `Sprout work for the agents of site ${siteId}`,
            filter_subject: workSubject,
            ack_wait: nanos(settings.ackWaitMs),
            max_deliver: settings.maxDeliver,
          }),
        handle: (msg) => workHandler!(readWorkItem(msg.data), { attempt: msg.info.deliveryCount, maxAttempts: settings.maxDeliver }),
        ackWaitMs: settings.ackWaitMs,
        retryDelayMs: (msg) => settings.retryDelayMs * msg.info.deliveryCount,
        logger,
        what: `work for site ${siteId}`,
      });
    },

    async publishReports(reports: AgentReport[]) {
      const js = jetstream(await link.connectedNow());
      // One after the other: a report is never stored before the one the agent sent ahead of it.
      for (const report of reports) {
        try {
          await js.publish(reportSubject, JSON.stringify(report), { msgID: `${agentId}:${report.sequence}` });
        } catch (err) {
          throw link.unavailable(`report ${report.sequence} of agent ${agentId} was not stored: ${(err as Error).message}`, err);
        }
      }
    },

    health: () => link.health(),

    async close() {
      await work?.stop();
      await link.close();
    },
  } satisfies AgentTransport;
};
