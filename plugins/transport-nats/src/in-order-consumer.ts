/**
 * Pulls one message at a time from a durable consumer and hands it to a handler, in
 * order: acknowledged when the handler resolves, negatively acknowledged (redelivered
 * after a delay) when it throws, kept alive with `working()` while it runs. Pulling one
 * at a time means nothing waits in a local buffer while its ack timer runs out.
 * The loop outlives outages: it reconnects, re-ensures its consumer and goes on; it
 * ends only when stopped.
 */
import { jetstream, jetstreamManager, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { AgentTransportOptions } from '@sprout/kernel/sdk';
import type { NatsLink } from './nats-link.ts';

export type TransportLogger = AgentTransportOptions['logger'];

/** A message the handler can never accept (not JSON, wrong shape): it is terminated, not retried. */
export class UnreadableMessage extends Error {}

export interface InOrderConsumerOptions {
  link: NatsLink;
  stream: string;
  durable: string;
  /** Makes sure the stream and the consumer exist; called on start and after every failure. */
  ensure(jsm: JetStreamManager): Promise<void>;
  handle(msg: JsMsg): Promise<void>;
  ackWaitMs: number;
  /** Delay before a message whose handler threw is delivered again. */
  retryDelayMs(msg: JsMsg): number;
  /** Wait after a failed pull or connection before trying again. */
  recoverMs?: number;
  logger: TransportLogger;
  /** What the loop is for, in log lines: `reports`, `work for site …`. */
  what: string;
}

export class InOrderConsumer {
  private stopping = false;
  private abandoned = false;
  private signalStop!: () => void;
  /** Resolves (with no message) once stop() is called: raced against pulls and pauses. */
  private readonly stopped = new Promise<null>((resolve) => {
    this.signalStop = () => resolve(null);
  });
  private readonly done: Promise<void>;
  private markStarted!: (outcome: Error | undefined) => void;
  /**
   * Settles after the first attempt to set up: resolves once the consumer exists and
   * pulling begins, rejects when that attempt failed (the loop keeps trying regardless).
   */
  readonly started = new Promise<void>((resolve, reject) => {
    this.markStarted = (err) => (err ? reject(err) : resolve());
  });

  constructor(private readonly options: InOrderConsumerOptions) {
    this.started.catch(() => {});
    this.done = this.run();
  }

  /**
   * Lets the message in hand finish (acked or naked) for up to one ack wait, then ends
   * the loop. A handler still running after that is abandoned: its message is neither
   * acknowledged nor kept alive, so the server delivers it again (e.g. to the next agent).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.signalStop();
    this.markStarted(new Error('stopped before it started'));
    const graceOver = sleep(this.options.ackWaitMs).then(() => {
      this.abandoned = true;
    });
    await Promise.race([this.done, graceOver]);
  }

  /** Ends with nothing in hand once stopped; a pull still open ends when the connection drains. */
  private async run(): Promise<void> {
    const { link, stream, durable, logger, what } = this.options;
    let failures = 0;
    while (!this.stopping) {
      try {
        const nc = await link.connection();
        await this.options.ensure(await jetstreamManager(nc));
        const consumer = await jetstream(nc).consumers.get(stream, durable);
        this.markStarted(undefined);
        if (failures > 0) logger.info({ stream, consumer: durable }, `transport-nats: consuming ${what} again`);
        failures = 0;
        while (!this.stopping) {
          const msg = await Promise.race([consumer.next({ expires: 5_000 }), this.stopped]);
          if (!msg || this.stopping) {
            // A message that raced with stop() is left unacknowledged: it is delivered again.
            continue;
          }
          await this.deliver(msg);
        }
      } catch (err) {
        if (this.stopping || link.closed) break;
        this.markStarted(err as Error);
        failures += 1;
        // Logged once per outage, not once per retry; health() carries the state meanwhile.
        if (failures === 1) logger.warn({ err, stream, consumer: durable }, `transport-nats: cannot consume ${what}; retrying until it works`);
        await Promise.race([sleep(this.options.recoverMs ?? 1_000), this.stopped]);
      }
    }
  }

  private async deliver(msg: JsMsg): Promise<void> {
    const { ackWaitMs, logger, what } = this.options;
    const keepAlive = setInterval(
      () => {
        if (this.abandoned) clearInterval(keepAlive);
        else settle(() => msg.working());
      },
      Math.max(50, Math.floor(ackWaitMs / 3)),
    );
    let failure: unknown;
    try {
      await this.options.handle(msg);
    } catch (err) {
      failure = err;
    } finally {
      clearInterval(keepAlive);
    }
    if (this.abandoned) return;
    if (failure === undefined) {
      settle(() => msg.ack());
    } else if (failure instanceof UnreadableMessage) {
      logger.error({ err: failure, stream: this.options.stream, seq: msg.seq }, `transport-nats: dropping an unreadable message from ${what}`);
      settle(() => msg.term());
    } else {
      const delay = this.options.retryDelayMs(msg);
      logger.warn(
        { err: failure, stream: this.options.stream, seq: msg.seq, attempt: msg.info.deliveryCount, retryInMs: delay },
        `transport-nats: handling ${what} failed; it will be delivered again`,
      );
      settle(() => msg.nak(delay));
    }
  }
}

/** An ack that cannot be sent (connection gone) is not an error here: the server redelivers. */
function settle(send: () => void): void {
  try {
    send();
  } catch {
    // The message stays unacknowledged and comes back after the ack wait.
  }
}

function sleep(ms: number): Promise<null> {
  return new Promise((resolve) => setTimeout(() => resolve(null), ms).unref());
}
