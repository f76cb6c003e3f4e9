/**
 * The NATS permissions an agent of one site needs, and no more: publish its site's
 * reports, use the JetStream API for its own consumer only (create it with its own
 * filter, read it, pull from it, acknowledge), watch its own site's key of the STATE
 * bucket, receive replies (and the watch's messages) under its site's inbox prefix. It can neither read another site's work nor report for another site, nor read
 * replies meant for other clients. See docs/nats.md.
 */
import { natsNames } from './settings.ts';

export interface NatsPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
}

export function agentPermissions(prefix: string, siteId: string): NatsPermissions {
  const names = natsNames(prefix);
  const consumer = `${names.workStream}.${names.agentConsumer(siteId)}`;
  const stateKey = names.stateKeySubject(siteId);
  return {
    publish: {
      allow: [
        names.reportSubject(siteId),
        '$JS.API.INFO',
        // The filter is part of the subject, so the agent cannot point its consumer at another site.
        `$JS.API.CONSUMER.CREATE.${consumer}.${names.workSubject(siteId)}`,
        `$JS.API.CONSUMER.INFO.${consumer}`,
        `$JS.API.CONSUMER.MSG.NEXT.${consumer}`,
        `$JS.ACK.${consumer}.>`,
        // The desired-state watch: an ordered consumer (any name) on the bucket, filtered to its site's key only.
        `$JS.API.CONSUMER.CREATE.${names.stateStream}.*.${stateKey}`,
        // Flow-control replies of that consumer.
        `$JS.FC.${names.stateStream}.>`,
      ],
    },
    // Its own replies only: `_INBOX.>` would let it read pulls and replies meant for others.
    subscribe: { allow: [`${names.agentInboxPrefix(siteId)}.>`] },
  };
}
