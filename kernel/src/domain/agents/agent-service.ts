/**
 * Site agents: registration trades a one-time join token for a credential (both stored
 * only as hashes), credentials authenticate agents, heartbeats keep them visible.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { hashSecret } from '../../auth/token-service.ts';
import type { Principal } from '../../auth/principal.ts';
import { SproutError } from '../../errors/index.ts';
import type { ReportedImage } from '../sites/site-images.ts';
import type { Clock } from '../lifecycle/lifecycle.ts';

export interface AgentRegistration {
  joinToken: string;
  hostname: string;
  version: string;
  capabilities: string[];
}

export interface AgentHeartbeat {
  version: string;
  capabilities: string[];
  services: Record<string, unknown>;
  /** The desired-state revision the agent serves, and why it refused a newer document, if it did. */
  desiredState?: { revision: number | null; error: string | null };
  /** The images in the agent's artifact store; absent when it keeps none (no HTTP boot service). */
  images?: ReportedImage[];
}

export class AgentService {
  constructor(private readonly deps: { db: Knex; clock: Clock }) {}

  /** Consumes the join token (once) and returns the new agent with its credential, shown only here. */
  async register(trx: Knex.Transaction, input: AgentRegistration): Promise<{ agentId: string; siteId: string; siteName: string; credential: string }> {
    const token = await trx('join_tokens')
      .where({ secret_hash: hashSecret(input.joinToken) })
      .forUpdate()
      .first();
    const now = this.deps.clock.now();
    if (!token) throw new SproutError('SPROUT_ERR_UNAUTHENTICATED', 'unknown join token; issue one with `sprout site join-token <site>`');
    if (token.used_at)
      throw new SproutError(
        'SPROUT_ERR_UNAUTHENTICATED',
        `join token already used at ${new Date(token.used_at).toISOString()}; issue a new one with \`sprout site join-token <site>\``,
      );
    if (new Date(token.expires_at).getTime() <= now.getTime())
      throw new SproutError(
        'SPROUT_ERR_UNAUTHENTICATED',
        `join token expired at ${new Date(token.expires_at).toISOString()}; issue a new one with \`sprout site join-token <site>\``,
      );
    const agentId = randomUUID();
    const credential = `sprout_agent_${randomBytes(32).toString('base64url')}`;
    await trx('agents').insert({
      id: agentId,
      site_id: token.site_id,
      hostname: input.hostname,
      version: input.version,
      capabilities: JSON.stringify(input.capabilities),
      credential_hash: hashSecret(credential),
    });
    await trx('join_tokens').where({ id: token.id }).update({ used_at: now, used_by_agent: agentId });
    const site = await trx('sites').where({ id: token.site_id }).first();
    return { agentId, siteId: token.site_id, siteName: site.name, credential };
  }

  async authenticate(secret: string): Promise<Principal | null> {
    if (!secret.startsWith('sprout_agent_')) return null;
    const agent = await this.deps
      .db('agents')
      .where({ credential_hash: hashSecret(secret) })
      .first();
    if (!agent) return null;
    return { kind: 'agent', actor: `agent:${agent.id}`, role: null, agentId: agent.id, siteId: agent.site_id };
  }

  async heartbeat(agentId: string, beat: AgentHeartbeat): Promise<void> {
    await this.deps
      .db('agents')
      .where({ id: agentId })
      .update({
        version: beat.version,
        capabilities: JSON.stringify(beat.capabilities),
        services: JSON.stringify(beat.services),
        last_heartbeat_at: this.deps.clock.now(),
        ...(beat.desiredState ? { desired_revision: beat.desiredState.revision, desired_state_error: beat.desiredState.error } : {}),
      });
  }
}
