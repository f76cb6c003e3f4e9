/**
 * Creates or updates the streams and durable consumers transport-nats relies on, so a
 * fresh NATS server needs no manual setup and a changed setting (ack wait, deliveries)
 * takes effect on the next start. It never deletes a stream or a consumer.
 */
import { nanos } from '@nats-io/transport-node';
import {
  AckPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { NatsNames } from './settings.ts';

/** JSStreamNameExistErr: the stream exists with another configuration. */
const streamExistsDifferently = 10058;

export interface StreamSettings {
  names: NatsNames;
  duplicateWindowMs: number;
  reportRetentionMs: number;
  replicas: number;
}

/**
 * WORK (a work queue per site subject), REPORTS and DEAD_LETTERS (kept for a while), and
 * the STATE key-value bucket (stream KV_<PREFIX>_STATE, configured as @nats-io/kv would:
 * the latest desired-state document per site key, history 1).
 */
export function streamConfigs({ names, duplicateWindowMs, reportRetentionMs, replicas }: StreamSettings): StreamConfig[] {
  const kept = { retention: RetentionPolicy.Limits, storage: StorageType.File, num_replicas: replicas, max_age: nanos(reportRetentionMs) };
  return [
    {
      name: names.workStream,
      description: 'Sprout work for site agents; a message leaves when an agent acknowledges it',
      subjects: [names.allWork],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: replicas,
      duplicate_window: nanos(duplicateWindowMs),
    },
    {
      ...kept,
      name: names.reportsStream,
      description: 'Reports from Sprout site agents to the control plane',
      subjects: [names.allReports],
      duplicate_window: nanos(Math.min(duplicateWindowMs, reportRetentionMs)),
    },
    {
      ...kept,
      name: names.deadLetterStream,
      description: 'Notices of Sprout work that exhausted its deliveries',
      subjects: [names.maxDeliveriesAdvisories],
      duplicate_window: nanos(Math.min(120_000, reportRetentionMs)),
    },
    {
      name: names.stateStream,
      description: "Sprout sites' desired-state documents, the latest one per site (key-value bucket)",
      subjects: [`$KV.${names.stateBucket}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: replicas,
      max_msgs_per_subject: 1,
      discard: DiscardPolicy.New,
      allow_rollup_hdrs: true,
      deny_delete: true,
      allow_direct: true,
      duplicate_window: nanos(120_000),
    },
  ] as StreamConfig[];
}

export async function ensureStreams(jsm: JetStreamManager, settings: StreamSettings): Promise<void> {
  for (const config of streamConfigs(settings)) {
    try {
      await jsm.streams.add(config);
    } catch (err) {
      if (!(err instanceof JetStreamApiError) || err.code !== streamExistsDifferently) throw err;
      await jsm.streams.update(config.name, config);
    }
  }
}

export type DurablePullConsumer = Pick<ConsumerConfig, 'durable_name' | 'ack_wait' | 'max_deliver'> &
  Partial<Pick<ConsumerConfig, 'filter_subject' | 'max_ack_pending' | 'description'>>;

/** A durable pull consumer with explicit acks, created or brought to `wanted`. */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, wanted: DurablePullConsumer): Promise<void> {
  const config: Partial<ConsumerConfig> = { ...wanted, ack_policy: AckPolicy.Explicit };
  let current: ConsumerConfig | undefined;
  try {
    current = (await jsm.consumers.info(stream, wanted.durable_name!)).config;
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.ConsumerNotFound) throw err;
  }
  if (!current) {
    await jsm.consumers.add(stream, config);
    return;
  }
  const stale = (Object.keys(wanted) as (keyof DurablePullConsumer)[]).some((key) => current[key] !== wanted[key]);
  if (stale) {
    const { durable_name: _, ...changes } = config;
    await jsm.consumers.update(stream, wanted.durable_name!, changes);
  }
}
