/**
 * Sites and what an operator sees of their agents. A site hands out one-time join
 * tokens (stored as hashes, with an expiry) that agents trade for credentials; an
 * agent is `online` while its heartbeats arrive, `offline` after a few are missed,
 * `never_seen` before its first.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { hashSecret } from '../../auth/token-service.ts';
import type { SproutConfig } from '../../config/schema.ts';
import type { Clock } from '../lifecycle/lifecycle.ts';
import type { SiteRow } from './find-site.ts';

export type AgentStatus = 'never_seen' | 'online' | 'offline';

export interface AgentView {
  id: string;
  hostname: string;
  version: string;
  status: AgentStatus;
  lastHeartbeatAt: string | null;
  capabilities: string[];
  services: Record<string, unknown>;
  reports: { refused: number; deadLettered: number; lastProblem: string | null; lastProblemAt: string | null };
  /** The site's desired-state revision this agent serves, how many it is behind, and why it refused a newer one. */
  desiredState: { revision: number | null; latest: number; behind: number | null; error: string | null };
}

export interface SiteView {
  id: string;
  name: string;
  description: string;
  labels: Record<string, string>;
  /** The revision of the site's desired state: grows with every change its agents serve. */
  desiredRevision: number;
  agents: AgentView[];
  createdAt: string;
  updatedAt: string;
}

export interface JoinToken {
  token: string;
  expiresAt: string;
}

export class SiteService {
  constructor(private readonly deps: { db: Knex; config: SproutConfig; clock: Clock }) {}

  agentStatus(lastHeartbeatAt: Date | string | null): AgentStatus {
    if (!lastHeartbeatAt) return 'never_seen';
    const { heartbeatSeconds, offlineAfterMissed } = this.deps.config.agents;
    const age = this.deps.clock.now().getTime() - new Date(lastHeartbeatAt).getTime();
    return age <= heartbeatSeconds * offlineAfterMissed * 1000 ? 'online' : 'offline';
  }

  async views(rows: SiteRow[], db: Knex | Knex.Transaction = this.deps.db): Promise<SiteView[]> {
    const agents = rows.length ? await db('agents').whereIn('site_id', rows.map((r) => r.id)).orderBy('registered_at') : [];
    return rows.map((site) => ({
      id: site.id,
      name: site.name,
      description: site.description,
      labels: site.labels ?? {},
      desiredRevision: Number(site.desired_revision ?? 0),
      createdAt: new Date(site.created_at).toISOString(),
      updatedAt: new Date(site.updated_at).toISOString(),
      agents: agents
        .filter((a) => a.site_id === site.id)
        .map((a) => ({
          id: a.id,
          hostname: a.hostname,
          version: a.version,
          status: this.agentStatus(a.last_heartbeat_at),
          lastHeartbeatAt: a.last_heartbeat_at ? new Date(a.last_heartbeat_at).toISOString() : null,
          capabilities: a.capabilities ?? [],
          services: a.services ?? {},
          desiredState: {
            revision: a.desired_revision == null ? null : Number(a.desired_revision),
            latest: Number(site.desired_revision ?? 0),
            behind: a.desired_revision == null ? null : Math.max(0, Number(site.desired_revision ?? 0) - Number(a.desired_revision)),
            error: a.desired_state_error ?? null,
          },
          reports: {
            refused: Number(a.refused_reports ?? 0),
            deadLettered: Number(a.dead_lettered_reports ?? 0),
            lastProblem: a.last_report_problem ?? null,
            lastProblemAt: a.last_report_problem_at ? new Date(a.last_report_problem_at).toISOString() : null,
          },
        })),
    }));
  }

  async create(trx: Knex.Transaction, input: { name: string; description?: string; labels?: Record<string, string> }, actor: string): Promise<{ site: SiteRow; joinToken: JoinToken }> {
    const [site] = await trx<SiteRow>('sites')
      .insert({ id: randomUUID(), name: input.name, description: input.description ?? '', labels: JSON.stringify(input.labels ?? {}) as never })
      .returning('*');
    return { site, joinToken: await this.issueJoinToken(trx, site.id, actor) };
  }

  async issueJoinToken(trx: Knex.Transaction, siteId: string, actor: string): Promise<JoinToken> {
    const token = `sprout_join_${randomBytes(24).toString('base64url')}`;
    const expiresAt = new Date(this.deps.clock.now().getTime() + this.deps.config.agents.joinTokenTtlSeconds * 1000);
    await trx('join_tokens').insert({ id: randomUUID(), site_id: siteId, secret_hash: hashSecret(token), created_by: actor, expires_at: expiresAt });
    return { token, expiresAt: expiresAt.toISOString() };
  }
}
