/**
 * The agent's half: consumes its site's work through the durable consumer
 * `agent-<siteId>` (filtered to `<prefix>.work.<siteId>`) and publishes reports to
 * `<prefix>.reports.<siteId>`, each deduplicated by `<agentId>:<sequence>`. It needs no
 * right to create streams: the control plane made them. It connects in the background,
 * so an agent starts (and serves its site) while NATS is unreachable. It watches its
 * site's key, and only that key, in the `<PREFIX>_STATE` bucket for the desired state.
 */
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { nanos } from '@nats-io/transport-node';
import type { AgentReport, AgentTransport, AgentTransportFactory } from '@sprout/kernel/sdk';
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
  let watching: Promise<void> | undefined;
  let stopWatch: (() => void) | undefined;

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

    async watchDesiredState(onDocument) {
      // Returns at once; the watch is set up in the background, and again after it ends (NATS outage, consumer lost).
      watching ??= (async () => {
        let lastFailure = '';
        while (!link.closed) {
          try {
            const bucket = await new Kvm(await link.connection()).open(names.stateBucket);
            // An ordered watch of this one key: the current value first, then each update.
            const entries = await bucket.watch({ key: siteId, ignoreDeletes: true });
            stopWatch = () => entries.stop();
            if (lastFailure) logger.info({ siteId }, 'transport-nats: watching the desired state again');
            lastFailure = '';
            for await (const entry of entries) {
              if (entry.operation !== 'PUT') continue;
              let document: unknown;
              try {
                document = entry.json();
              } catch (err) {
                document = { unreadable: (err as Error).message };
              }
              onDocument(document);
            }
            if (link.closed) return;
            throw new Error('the watch ended');
          } catch (err) {
            if (link.closed) return;
            const message = (err as Error).message;
            if (message !== lastFailure)
              logger.warn({ err: message, bucket: names.stateBucket, siteId }, 'transport-nats: cannot watch the desired state; retrying');
            lastFailure = message;
            await new Promise((resolve) => setTimeout(resolve, 1_000).unref());
          }
        }
      })();
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
      stopWatch?.();
      await watching;
    },
  } satisfies AgentTransport;
};
