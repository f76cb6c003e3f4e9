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
import { SproutError } from '../../errors/index.ts';
import type { KernelHooks } from '../../hooks/hooks.ts';
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
  constructor(private readonly deps: { db: Knex; config: SproutConfig; clock: Clock; hooks: KernelHooks }) {}

  agentStatus(lastHeartbeatAt: Date | string | null): AgentStatus {
    if (!lastHeartbeatAt) return 'never_seen';
    const { heartbeatSeconds, offlineAfterMissed } = this.deps.config.agents;
    const age = this.deps.clock.now().getTime() - new Date(lastHeartbeatAt).getTime();
    return age <= heartbeatSeconds * offlineAfterMissed * 1000 ? 'online' : 'offline';
  }

  async views(rows: SiteRow[], db: Knex | Knex.Transaction = this.deps.db): Promise<SiteView[]> {
    const agents = rows.length
      ? await db('agents')
          .whereIn(
            'site_id',
            rows.map((r) => r.id),
          )
          .orderBy('registered_at')
      : [];
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

  /** Every site, by name. */
  async list(db: Knex | Knex.Transaction = this.deps.db): Promise<SiteRow[]> {
    return db<SiteRow>('sites').orderBy('name');
  }

  async create(
    trx: Knex.Transaction,
    input: { name: string; description?: string; labels?: Record<string, string> },
    actor: string,
  ): Promise<{ site: SiteRow; joinToken: JoinToken }> {
    await this.refuseTakenName(trx, input.name);
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

  /** Changes name, description or labels; answers the row and what changed (old → new). */
  async update(
    trx: Knex.Transaction,
    site: SiteRow,
    patch: Partial<Pick<SiteRow, 'name' | 'description' | 'labels'>>,
  ): Promise<{ row: SiteRow; changes: Record<string, { old: unknown; new: unknown }> }> {
    if (patch.name && patch.name !== site.name) await this.refuseTakenName(trx, patch.name);
    const changes: Record<string, { old: unknown; new: unknown }> = {};
    for (const key of ['name', 'description', 'labels'] as const) {
      if (patch[key] !== undefined && JSON.stringify(patch[key]) !== JSON.stringify(site[key])) changes[key] = { old: site[key], new: patch[key] };
    }
    const [row] = await trx<SiteRow>('sites')
      .where({ id: site.id })
      .update({ ...patch, ...(patch.labels ? { labels: JSON.stringify(patch.labels) as never } : {}), updated_at: trx.fn.now() as never })
      .returning('*');
    return { row, changes };
  }

  /**
   * Deletes a site with no machines and no networks (refused, naming the networks,
   * otherwise), with its workflows and undelivered work; plugins drop their own rows for
   * it in `siteRemoving`, in the same transaction.
   */
  async remove(trx: Knex.Transaction, site: SiteRow): Promise<void> {
    const machines = Number((await trx('machines').where({ site_id: site.id }).count<{ c: number }[]>('* as c').first())?.c ?? 0);
    const networks: { name: string; cidr: string }[] = await trx('networks').where({ site_id: site.id }).orderBy('name').select('name', 'cidr');
    if (machines > 0 || networks.length > 0) {
      const named = networks.length > 0 ? ` (${networks.map((n) => `${n.name} ${n.cidr}`).join(', ')})` : '';
      const how = networks.length > 0 ? `; delete them first (sprout network delete <network> --site ${site.name})` : '; delete them first';
      throw new SproutError('SPROUT_ERR_CONFLICT', `site ${site.name} still has ${machines} machine(s) and ${networks.length} network(s)${named}${how}`, {
        context: { machines, networks: networks.length },
        details: networks.map((n) => ({ field: 'networks', message: `network ${n.name} (${n.cidr}) is still at the site`, network: n })),
      });
    }
    await this.deps.hooks.siteRemoving.promise({ id: site.id, trx });
    await trx('workflows').where({ site_id: site.id }).delete();
    await trx('outbox').where({ site_id: site.id }).delete();
    await trx('sites').where({ id: site.id }).delete();
  }

  private async refuseTakenName(trx: Knex.Transaction, name: string): Promise<void> {
    if (await trx('sites').where({ name }).first()) {
      throw new SproutError('SPROUT_ERR_CONFLICT', `a site named "${name}" already exists`, { details: [{ field: 'name', message: 'already taken' }] });
    }
  }
}
