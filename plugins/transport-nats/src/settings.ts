/**
 * What transport-nats can be told: the plugin's config (`plugins.transport-nats` in
 * sprout.yaml) and the settings the control plane hands an agent at registration. The
 * names of streams, subjects and consumers follow from the prefix and nothing else.
 */
import Type, { type Static } from 'typebox';
import { Value } from 'typebox/value';
import { SproutError, schemaProblems } from '@sprout/kernel/sdk';

const pluginId = 'transport-nats';

const prefix = Type.String({
  pattern: '^[a-z0-9][a-z0-9_-]*$',
  default: 'sprout',
  description: 'Subject prefix; streams are <PREFIX>_WORK and <PREFIX>_REPORTS, the key-value bucket <PREFIX>_STATE',
});
const ackWaitMs = Type.Integer({ minimum: 100, default: 30_000, description: 'How long a delivery may go unacknowledged before it is delivered again' });
const maxDeliver = Type.Integer({ minimum: 1, default: 5, description: 'Deliveries of a work item before it is dead-lettered' });
const retryDelayMs = Type.Integer({ minimum: 0, default: 1_000, description: 'Delay before a failed delivery is retried (times the attempt for work)' });
const natsUrl = Type.String({ pattern: '^(nats|tls)://', description: 'NATS URL' });

export const configSchema = Type.Object(
  {
    prefix,
    ackWaitMs,
    maxDeliver,
    retryDelayMs,
    duplicateWindowMs: Type.Integer({
      minimum: 1_000,
      default: 2 * 3_600_000,
      description: 'How long a work item id or report sequence is remembered for deduplication',
    }),
    reportRetentionMs: Type.Integer({
      minimum: 60_000,
      default: 7 * 86_400_000,
      description: 'How long reports and dead-letter notices stay in their streams',
    }),
    replicas: Type.Integer({ minimum: 1, maximum: 5, default: 1, description: 'Copies of each stream in a NATS cluster (3 for production clusters)' }),
    url: Type.Optional(
      Type.String({ ...natsUrl, description: 'NATS URL of the control plane (SPROUT_NATS_URL); set, it makes this plugin the default transport' }),
    ),
    agentUrl: Type.Optional(Type.String({ ...natsUrl, description: 'NATS URL agents use, when it differs from url' })),
  },
  { additionalProperties: false },
);

export type NatsTransportConfig = Static<typeof configSchema>;

/**
 * What the agent half reads from the settings sent at registration: the control plane
 * sends this plugin's config (`url` without its credentials); `agentUrl`, when set, wins.
 */
export const agentSettingsSchema = Type.Object({ url: natsUrl, agentUrl: Type.Optional(natsUrl), prefix, ackWaitMs, maxDeliver, retryDelayMs });

export type NatsAgentSettings = Static<typeof agentSettingsSchema>;

/** The agent settings from what the control plane sent, defaults filled; one error lists every problem. */
export function readAgentSettings(settings: Record<string, unknown>): NatsAgentSettings {
  const withDefaults = Value.Default(agentSettingsSchema, structuredClone(settings)) as Record<string, unknown>;
  const problems = schemaProblems(agentSettingsSchema, withDefaults, 'settings');
  if (problems.length > 0) {
    throw new SproutError('SPROUT_ERR_CONFIG', `${pluginId}: the transport settings the control plane sent are invalid`, {
      details: problems,
      context: { plugin: pluginId },
    });
  }
  const read = withDefaults as NatsAgentSettings;
  return { ...read, url: read.agentUrl ?? read.url };
}

/** Settings with the agent host's own NATS URL (with its own user), when it has one, in place of the sent one. */
export function withLocalNatsUrl(settings: Record<string, unknown>, localUrl: string | undefined): Record<string, unknown> {
  if (!localUrl) return settings;
  const { agentUrl: _, ...rest } = settings;
  return { ...rest, url: localUrl };
}

/** Stream, subject and consumer names for one prefix. */
export function natsNames(prefix: string) {
  const upper = prefix.toUpperCase();
  const workStream = `${upper}_WORK`;
  return {
    workStream,
    reportsStream: `${upper}_REPORTS`,
    deadLetterStream: `${upper}_DEAD_LETTERS`,
    /** Key-value bucket of each site's desired-state document, under the site id (history 1). */
    stateBucket: `${upper}_STATE`,
    /** The stream JetStream keeps the bucket in. */
    stateStream: `KV_${upper}_STATE`,
    /** The subject of one site's key in the bucket. */
    stateKeySubject: (siteId: string) => `$KV.${upper}_STATE.${siteToken(siteId)}`,
    allWork: `${prefix}.work.>`,
    allReports: `${prefix}.reports.>`,
    /** The server announces here every message of WORK a consumer gave up on. */
    maxDeliveriesAdvisories: `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${workStream}.*`,
    workSubject: (siteId: string) => `${prefix}.work.${siteToken(siteId)}`,
    reportSubject: (siteId: string) => `${prefix}.reports.${siteToken(siteId)}`,
    /** The site whose subject a report arrived on (and so whose NATS user sent it), or null for any other subject. */
    siteOfReportSubject: (subject: string): string | null => {
      const head = `${prefix}.reports.`;
      return subject.startsWith(head) && !subject.slice(head.length).includes('.') ? subject.slice(head.length) : null;
    },
    agentConsumer: (siteId: string) => `agent-${siteToken(siteId)}`,
    /** Replies to an agent of the site arrive under this prefix only, so its NATS user need not read other inboxes. */
    agentInboxPrefix: (siteId: string) => `_INBOX.agent-${siteToken(siteId)}`,
    controlPlaneConsumer: 'control-plane',
    /** The control planes' durable consumer of one site's reports (filtered to its subject). */
    siteReportsConsumer: (siteId: string) => `control-plane-${siteToken(siteId)}`,
  };
}

export type NatsNames = ReturnType<typeof natsNames>;

/** A site id becomes a subject token and part of a consumer name: no dots, wildcards or spaces. */
function siteToken(siteId: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(siteId)) {
    throw new SproutError('SPROUT_ERR_VALIDATION', `${pluginId}: site id "${siteId}" cannot name a NATS subject (letters, digits, '-' and '_' only)`, {
      context: { plugin: pluginId, siteId },
    });
  }
  return siteId;
}
