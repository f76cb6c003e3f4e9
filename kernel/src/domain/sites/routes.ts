/** Sites under /v1/sites: create (with a join token), list, show, update, delete. */
import Type from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { ServiceDeps } from '../../api/build-app.ts';
import { refuseCursor } from '../../api/cursor.ts';
import { findSite, type SiteRow } from './find-site.ts';
import { WorkflowSchema } from '../workflows/schemas.ts';

export const siteName = Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', description: 'DNS label: lowercase letters, digits and hyphens' });
const Labels = Type.Record(Type.String({ maxLength: 63 }), Type.String({ maxLength: 255 }), { maxProperties: 64 });

export const AgentSchema = Type.Object({
  id: Type.String(),
  hostname: Type.String(),
  version: Type.String(),
  status: Type.Union([Type.Literal('never_seen'), Type.Literal('online'), Type.Literal('offline')]),
  lastHeartbeatAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  capabilities: Type.Array(Type.String()),
  services: Type.Record(Type.String(), Type.Unknown()),
  desiredState: Type.Object(
    {
      revision: Type.Union([Type.Integer(), Type.Null()], {
        description: "The revision of the site's desired state this agent serves (null before its first)",
      }),
      latest: Type.Integer({ description: "The site's current revision" }),
      behind: Type.Union([Type.Integer(), Type.Null()], { description: 'latest − revision: 0 when the agent serves the current state' }),
      error: Type.Union([Type.String(), Type.Null()], { description: 'Why the agent refused the newest document it got, if it did' }),
    },
    { description: 'How far behind the control plane this agent is (from its heartbeat)' },
  ),
  reports: Type.Object(
    {
      refused: Type.Integer({ description: 'Reports refused because they spoke for another site (each is audited as agent.report.refused)' }),
      deadLettered: Type.Integer({ description: 'Malformed reports, or ones that kept failing when applied, set aside in report_dead_letters' }),
      lastProblem: Type.Union([Type.String(), Type.Null()]),
      lastProblemAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    },
    { description: "What became of this agent's reports that were not applied" },
  ),
});

export const SiteSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  description: Type.String(),
  labels: Type.Record(Type.String(), Type.String()),
  desiredRevision: Type.Integer({ description: "Revision of the site's desired state: grows with every change its agents serve" }),
  agents: Type.Array(AgentSchema),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

const JoinTokenSchema = Type.Object({
  token: Type.String({ description: 'One-time secret for `sprout agent run --join-token`; shown once' }),
  expiresAt: Type.String({ format: 'date-time' }),
});
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'Site id or name' }) });

export const siteRoutes: FastifyPluginAsync<ServiceDeps<'db' | 'siteRevisions' | 'sites' | 'workflows'>> = async (
  app,
  { db, siteRevisions, sites, workflows, audited },
) => {
  const one = async (row: SiteRow) => (await sites.views([row]))[0];

  app.post(
    '/sites',
    {
      config: { auth: { role: 'operator', action: 'site.create', target: 'site' } },
      schema: {
        tags: ['sites'],
        summary: 'Register a site; the answer carries a one-time join token for its agent',
        body: Type.Object(
          { name: siteName, description: Type.Optional(Type.String({ maxLength: 1024 })), labels: Type.Optional(Labels) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ site: SiteSchema, joinToken: JoinTokenSchema }) },
      },
    },
    async (request, reply) => {
      const body = request.body as { name: string; description?: string; labels?: Record<string, string> };
      const created = await audited(request, async (trx) => {
        const made = await sites.create(trx, body, request.principal.actor);
        return { result: made, targetId: made.site.id, details: { name: body.name, description: body.description ?? '', labels: body.labels ?? {} } };
      });
      return reply.status(201).send({ site: await one(created.site), joinToken: created.joinToken });
    },
  );

  app.get(
    '/sites',
    {
      config: { auth: { role: 'viewer' } },
      preValidation: refuseCursor,
      schema: { tags: ['sites'], summary: 'List sites with their agents', response: { 200: Type.Object({ items: Type.Array(SiteSchema) }) } },
    },
    async () => ({ items: await sites.views(await sites.list()) }),
  );

  app.get(
    '/sites/:id',
    {
      config: { auth: { role: 'viewer' } },
      schema: { tags: ['sites'], summary: 'Show a site (by id or name) with its agents', params: IdParams, response: { 200: SiteSchema } },
    },
    async (request) => one(await findSite(db, (request.params as { id: string }).id)),
  );

  app.patch(
    '/sites/:id',
    {
      config: { auth: { role: 'operator', action: 'site.update', target: 'site' } },
      schema: {
        tags: ['sites'],
        summary: "Change a site's name, description or labels",
        params: IdParams,
        body: Type.Object(
          { name: Type.Optional(siteName), description: Type.Optional(Type.String({ maxLength: 1024 })), labels: Type.Optional(Labels) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: SiteSchema },
      },
    },
    async (request) => {
      const body = request.body as Partial<Pick<SiteRow, 'name' | 'description' | 'labels'>>;
      const row = await audited(request, async (trx) => {
        const site = await findSite(trx, (request.params as { id: string }).id, { forUpdate: true });
        const { row: updated, changes } = await sites.update(trx, site, body);
        return { result: updated, targetId: site.id, details: changes };
      });
      return one(row);
    },
  );

  app.delete(
    '/sites/:id',
    {
      config: { auth: { role: 'operator', action: 'site.delete', target: 'site' } },
      schema: { tags: ['sites'], summary: 'Delete a site; refused while machines or networks remain', params: IdParams, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      await audited(request, async (trx) => {
        const site = await findSite(trx, (request.params as { id: string }).id, { forUpdate: true });
        await sites.remove(trx, site);
        return { result: null, targetId: site.id, details: { name: site.name } };
      });
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/sites/:id/sync',
    {
      config: { auth: { role: 'operator', action: 'site.sync', target: 'site' } },
      schema: {
        tags: ['sites'],
        summary: "Publish the site's desired state (networks, reservations, boot intents, DNS) to its agent",
        params: IdParams,
        response: { 202: WorkflowSchema },
      },
    },
    async (request, reply) => {
      const id = await audited(request, async (trx) => {
        const site = await findSite(trx, (request.params as { id: string }).id);
        // A manual push: agents fetch the site's document at once, whatever revision they hold.
        const revision = await siteRevisions.changed(trx, site.id);
        return {
          result: await workflows.startForSite(trx, { kind: 'sync-site', siteId: site.id, actor: request.principal.actor }),
          targetId: site.id,
          details: { site: site.name, revision },
        };
      });
      return reply.status(202).send(await workflows.get(id));
    },
  );

  app.post(
    '/sites/:id/join-tokens',
    {
      config: { auth: { role: 'operator', action: 'site.join-token', target: 'site' } },
      schema: { tags: ['sites'], summary: 'Issue a new one-time join token for an agent of this site', params: IdParams, response: { 201: JoinTokenSchema } },
    },
    async (request, reply) => {
      const token = await audited(request, async (trx) => {
        const site = await findSite(trx, (request.params as { id: string }).id);
        const issued = await sites.issueJoinToken(trx, site.id, request.principal.actor);
        return { result: issued, targetId: site.id, details: { expiresAt: issued.expiresAt } };
      });
      return reply.status(201).send(token);
    },
  );
};
