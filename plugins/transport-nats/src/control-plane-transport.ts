/**
 * The control plane's half: publishes work to `<prefix>.work.<siteId>` (deduplicated by
 * item id), consumes agents' reports through one durable `control-plane-<siteId>` consumer
 * per site that every replica shares (sites found by listing the report stream's subjects),
 * and turns the server's max-deliveries advisories into dead
 * letters. It creates what it needs on first use; it never deletes streams or messages
 * other than a dead-lettered work item, once its handler has taken it.
 */
import { jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  isSproutError,
  type AgentReport,
  type SiteDesiredStateDocument,
  type TransportHealth,
  type TransportProvider,
  type WorkItem,
} from '@sprout/kernel/sdk';
import { NatsLink } from './nats-link.ts';
import { InOrderConsumer, UnreadableMessage, type TransportLogger } from './in-order-consumer.ts';
import { natsNames, type NatsTransportConfig } from './settings.ts';
import { ensureConsumer, ensureStreams } from './streams.ts';
import { readReport, readWorkItem } from './messages.ts';

/** How often a replica looks for sites whose reports it does not consume yet: a new site's first report waits up to this long. */
const reportSiteScanMs = 1_000;

export interface ControlPlaneTransportOptions {
  /** `plugins.transport-nats.url`; unset fails every use with a config error. */
  url: string | undefined;
  config: NatsTransportConfig;
  logger: TransportLogger;
}

/** A max-deliveries advisory, as the server publishes it. */
interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

export function createControlPlaneTransport({ url, config, logger }: ControlPlaneTransportOptions): TransportProvider {
  const names = natsNames(config.prefix);
  const link = new NatsLink({ url, name: 'sprout-control-plane', urlKey: 'plugins.transport-nats.url (SPROUT_NATS_URL)' });
  const consumers: InOrderConsumer[] = [];
  let streamsReady: { nc: NatsConnection; ready: Promise<void> } | undefined;
  // Registering again replaces the handler, so a caller that retries registration after an outage is safe.
  let reportHandler: ((report: AgentReport) => Promise<void>) | undefined;
  let deadLetterHandler: ((item: WorkItem, reason: string) => Promise<void>) | undefined;
  /** Sites whose reports have a consumer here, found by listing the report stream's subjects. */
  const reportSites = new Set<string>();
  let siteScan: ReturnType<typeof setInterval> | undefined;
  let scanning = false;
  let closing = false;

  /** Streams are ensured once per connection, and again after a failure. */
  async function ready(nc: NatsConnection): Promise<void> {
    if (streamsReady?.nc !== nc) {
      const ready = jetstreamManager(nc).then((jsm) =>
        ensureStreams(jsm, { names, duplicateWindowMs: config.duplicateWindowMs, reportRetentionMs: config.reportRetentionMs, replicas: config.replicas }),
      );
      streamsReady = { nc, ready };
      ready.catch(() => {
        if (streamsReady?.ready === ready) streamsReady = undefined;
      });
    }
    try {
      await streamsReady.ready;
    } catch (err) {
      throw link.unavailable(
        `cannot create or update the streams ${names.workStream}, ${names.reportsStream}, ${names.deadLetterStream}, ${names.stateStream}: ${(err as Error).message}`,
        err,
      );
    }
  }

  /** Starts consuming; resolves once the consumer exists, rejects (naming the URL) when it could not be set up yet. */
  async function consume(durable: string, stream: string, what: string, handle: (msg: JsMsg) => Promise<void>, filterSubject?: string): Promise<void> {
    const consumer = new InOrderConsumer({
      link,
      stream,
      durable,
      ensure: async (jsm) => {
        // Called on start and after a failure, which may have been a stream removed under us.
        streamsReady = undefined;
        await ready(await link.connection());
        // One at a time across every replica: reports are applied in the order agents sent them.
        await ensureConsumer(jsm, stream, {
          durable_name: durable,
          ack_wait: nanos(config.ackWaitMs),
          max_deliver: -1,
          max_ack_pending: 1,
          ...(filterSubject ? { filter_subject: filterSubject } : {}),
        });
      },
      handle,
      ackWaitMs: config.ackWaitMs,
      retryDelayMs: () => config.retryDelayMs,
      logger,
      what,
    });
    consumers.push(consumer);
    try {
      await consumer.started;
    } catch (err) {
      throw isSproutError(err) ? err : link.unavailable(`cannot consume ${what} from ${stream} yet (retrying): ${(err as Error).message}`, err);
    }
  }

  /**
   * Starts a consumer for every site that has reports in the stream and none yet here. One
   * durable per site, one message in flight each: a site's reports (and so each of its
   * agents') are applied in the order sent, while sites are applied side by side.
   */
  async function scanReportSites(): Promise<void> {
    if (scanning || closing) return;
    scanning = true;
    try {
      const jsm = await jetstreamManager(await link.connection());
      const info = await jsm.streams.info(names.reportsStream, { subjects_filter: names.allReports });
      // Closed meanwhile: a consumer started now would outlive close().
      if (closing) return;
      for (const subject of Object.keys(info.state.subjects ?? {})) {
        const siteId = names.siteOfReportSubject(subject);
        if (siteId === null || reportSites.has(siteId) || !/^[A-Za-z0-9_-]+$/.test(siteId)) continue;
        reportSites.add(siteId);
        void consume(names.siteReportsConsumer(siteId), names.reportsStream, `reports of site ${siteId}`, handleReport, subject).catch(() => {
          // The consumer keeps trying on its own and logs the outage once.
        });
      }
    } catch {
      // Tried again at the next scan; the per-site consumers already running go on (and log an outage) meanwhile.
    } finally {
      scanning = false;
    }
  }

  async function handleReport(msg: JsMsg): Promise<void> {
    // The subject is what the sender's NATS user was allowed to publish on: the report's site is checked against it.
    const channelSiteId = names.siteOfReportSubject(msg.subject);
    if (!channelSiteId) throw new UnreadableMessage(`a report arrived on ${msg.subject}, which is no site's report subject`);
    await reportHandler!({ ...readReport(msg.data), channelSiteId });
  }

  /** The first use connects; a failure names the URL, and the next use tries again. */
  async function started(): Promise<NatsConnection> {
    const nc = await link.connection();
    await ready(nc);
    return nc;
  }

  return {
    async publishWork(item: WorkItem) {
      const subject = names.workSubject(item.siteId);
      const nc = await link.connectedNow();
      await ready(nc);
      try {
        await jetstream(nc).publish(subject, JSON.stringify(item), { msgID: item.id });
      } catch (err) {
        // Perhaps the stream was removed under us: the next publish ensures it again.
        streamsReady = undefined;
        throw link.unavailable(`work item ${item.id} for site ${item.siteId} was not stored: ${(err as Error).message}`, err);
      }
    },

    async publishDesiredState(siteId: string, document: SiteDesiredStateDocument) {
      const nc = await link.connectedNow();
      await ready(nc);
      try {
        const bucket = await new Kvm(nc).open(names.stateBucket);
        await bucket.put(siteId, JSON.stringify(document));
      } catch (err) {
        streamsReady = undefined;
        throw link.unavailable(
          `the desired state (revision ${document.revision}) of site ${siteId} was not stored in ${names.stateBucket}: ${(err as Error).message}`,
          err,
        );
      }
    },

    async onReport(handler: (report: AgentReport) => Promise<void>) {
      await started();
      const consuming = reportHandler !== undefined;
      reportHandler = handler;
      if (consuming) return;
      // Reports were once consumed through one durable shared by every site: it would apply a
      // site's reports out of order beside the per-site ones, so it goes (its reports are read
      // again from the start by the per-site consumers; the applier drops what it has seen).
      await jetstreamManager(await link.connection())
        .then((jsm) => jsm.consumers.delete(names.reportsStream, names.controlPlaneConsumer))
        .catch(() => false);
      await scanReportSites();
      siteScan = setInterval(() => void scanReportSites(), reportSiteScanMs);
      siteScan.unref();
    },

    async onDeadLetter(handler: (item: WorkItem, reason: string) => Promise<void>) {
      await started();
      const consuming = deadLetterHandler !== undefined;
      deadLetterHandler = handler;
      if (consuming) return;
      await consume(names.controlPlaneConsumer, names.deadLetterStream, 'dead-lettered work', async (msg) => {
        let advisory: MaxDeliveriesAdvisory;
        try {
          advisory = msg.json<MaxDeliveriesAdvisory>();
        } catch (err) {
          throw new UnreadableMessage(`a max-deliveries advisory is not JSON: ${(err as Error).message}`);
        }
        const jsm = await jetstreamManager(await link.connection());
        const stored = await jsm.streams.getMessage(names.workStream, { seq: advisory.stream_seq });
        if (!stored) {
          // Another replica took it already, or an operator removed it: nothing is left to report.
          logger.warn(
            { stream: names.workStream, seq: advisory.stream_seq, consumer: advisory.consumer },
            'transport-nats: a dead-lettered work item is gone from its stream',
          );
          return;
        }
        const item = readWorkItem(stored.data);
        await deadLetterHandler!(item, `not acknowledged after ${advisory.deliveries} deliveries (consumer ${advisory.consumer})`);
        // A work queue keeps what was never acknowledged: remove it so it is not delivered again.
        await jsm.streams.deleteMessage(names.workStream, advisory.stream_seq, false);
      });
    },

    health(): TransportHealth {
      const health = link.health();
      // Asking is a use: a control plane that has not published yet still connects, so /readyz turns ready.
      if (!link.connected && !link.closed) void link.connection().catch(() => {});
      return health;
    },

    async close() {
      closing = true;
      clearInterval(siteScan);
      await Promise.all(consumers.map((c) => c.stop()));
      await link.close();
    },
  };
}
