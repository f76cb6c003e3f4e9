/**
 * What site agents call whatever their transport: registration with a join token,
 * heartbeats and the desired state. An agent acts only for itself and its site; anything
 * else is refused and audited. A transport's own agent routes come with its plugin
 * (PluginContext.agentRoutes).
 */
import Type from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { RouteDeps } from '../../api/build-app.ts';
import { SproutError, isSproutError } from '../../errors/index.ts';
import { kernelVersion } from '../../version.ts';
import type { AgentHeartbeat } from './agent-service.ts';
import { SiteDesiredStateSchema } from '../sites/desired-state-schema.ts';
import { imageNamePattern } from '../sites/site-images.ts';

const AgentParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

export const agentRoutes: FastifyPluginAsync<RouteDeps> = async (app, { kernel, audited }) => {
  app.post(
    '/agents/register',
    {
      config: { auth: { role: 'public', action: 'agent.register', target: 'agent' } },
      schema: {
        tags: ['agents'],
        summary: "Trade a site's one-time join token for an agent credential (shown once)",
        body: Type.Object(
          {
            joinToken: Type.String({ minLength: 1, maxLength: 256 }),
            hostname: Type.String({ minLength: 1, maxLength: 255 }),
            version: Type.String({ maxLength: 64 }),
            capabilities: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 }),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            agentId: Type.String(),
            siteId: Type.String(),
            siteName: Type.String(),
            credential: Type.String({ description: 'Bearer credential for the agent routes; store it, it is not shown again' }),
            heartbeatSeconds: Type.Number(),
            transport: Type.Object({ plugin: Type.String(), settings: Type.Record(Type.String(), Type.Unknown()) }),
            controlPlaneVersion: Type.String(),
          }),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { joinToken: string; hostname: string; version: string; capabilities: string[] };
      const retryAfter = app.authFailures.retryAfter(request.ip);
      if (retryAfter !== null) {
        await kernel.services.auditLog.recordRepeated(
          {
            actor: 'anonymous',
            action: 'agent.register',
            targetType: 'agent',
            requestId: String(request.id),
            sourceAddress: request.ip,
            outcome: 'denied',
            details: { status: 429, hostname: body.hostname, reason: 'too many failed authentications' },
          },
          { key: ['register', request.ip, 429].join('\u0000'), sample: { field: 'hostnames', value: body.hostname } },
        );
        request.audited = true;
        reply.header('retry-after', String(retryAfter));
        throw new SproutError('SPROUT_ERR_RATE_LIMITED', `too many failed authentications from ${request.ip}; try again in ${retryAfter} s`);
      }
      try {
        const registered = await audited(request, async (trx) => {
          const made = await kernel.services.agents.register(trx, body);
          request.principal = { kind: 'agent', actor: `agent:${made.agentId}`, role: null, agentId: made.agentId, siteId: made.siteId };
          return { result: made, targetId: made.agentId, details: { site: made.siteName, hostname: body.hostname, version: body.version } };
        });
        return reply.status(201).send({
          agentId: registered.agentId,
          siteId: registered.siteId,
          siteName: registered.siteName,
          credential: registered.credential,
          heartbeatSeconds: kernel.config.agents.heartbeatSeconds,
          transport: kernel.agentTransportSettings(),
          controlPlaneVersion: kernelVersion,
        });
      } catch (err) {
        if (isSproutError(err, 'SPROUT_ERR_UNAUTHENTICATED')) {
          app.authFailures.recordFailure(request.ip);
          await kernel.services.auditLog.recordRepeated(
            {
              actor: 'anonymous',
              action: 'agent.register',
              targetType: 'agent',
              requestId: String(request.id),
              sourceAddress: request.ip,
              outcome: 'denied',
              details: { status: 401, hostname: body.hostname, reason: err.message },
            },
            { key: ['register', request.ip, 401, err.message].join('\u0000'), sample: { field: 'hostnames', value: body.hostname } },
          );
          request.audited = true;
        }
        throw err;
      }
    },
  );

  app.post(
    '/agents/:id/heartbeat',
    {
      config: { auth: { role: 'agent', action: 'agent.heartbeat', target: 'agent', audit: false } },
      schema: {
        tags: ['agents'],
        summary: 'An agent is alive: its version, capabilities and the state of its site services',
        params: AgentParams,
        body: Type.Object(
          {
            version: Type.String({ maxLength: 64 }),
            capabilities: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 }),
            services: Type.Record(Type.String(), Type.Unknown()),
            desiredState: Type.Optional(
              Type.Object(
                {
                  revision: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'The revision the agent serves; null before its first' }),
                  error: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()], {
                    description: 'Why the agent refused the newest document it got, if it did',
                  }),
                },
                { additionalProperties: false },
              ),
            ),
            images: Type.Optional(
              Type.Array(
                Type.Object(
                  {
                    name: Type.String({ pattern: imageNamePattern }),
                    size: Type.Integer({ minimum: 0 }),
                    sha256: Type.Union([Type.String({ pattern: '^[0-9a-f]{64}$' }), Type.Null()], { description: 'null while the agent computes it' }),
                    format: Type.Union([Type.String({ maxLength: 16 }), Type.Null()]),
                  },
                  { additionalProperties: false },
                ),
                { maxItems: 1000, description: "The images in the agent's <artifactRoot>/images/ (absent: the agent keeps no images)" },
              ),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ heartbeatSeconds: Type.Number() }) },
      },
    },
    async (request) => {
      const beat = request.body as AgentHeartbeat;
      await kernel.services.agents.heartbeat((request.params as { id: string }).id, beat);
      if (beat.images && request.principal.siteId) await kernel.services.images.record(request.principal.siteId, beat.images);
      return { heartbeatSeconds: kernel.config.agents.heartbeatSeconds };
    },
  );

  app.get(
    '/agents/:id/desired-state',
    {
      config: { auth: { role: 'agent' } },
      schema: {
        tags: ['agents'],
        summary:
          "Long-poll the agent's site's desired state: answers at once with the document when its revision is above `after`, else waits up to `wait` seconds for a change (204 when none came)",
        params: AgentParams,
        querystring: Type.Object(
          {
            after: Type.Optional(Type.Integer({ minimum: -1, default: -1, description: 'The revision the agent holds; -1 (the default) for none' })),
            wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 60, default: 25 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: SiteDesiredStateSchema, 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const { after = -1, wait = 25 } = request.query as { after?: number; wait?: number };
      const siteId = request.principal.siteId!;
      const hungUp = new AbortController();
      reply.raw.once('close', () => hungUp.abort());
      const revision = await kernel.services.siteRevisions.waitBeyond(siteId, after, wait * 1000, hungUp.signal);
      if (revision <= after) return reply.status(204).send(null);
      return kernel.desiredState(siteId);
    },
  );
};
