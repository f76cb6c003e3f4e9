/** API tokens: created by admins, shown once, revocable. */
import Type from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import { roles } from '../../auth/principal.ts';
import { isSproutError } from '../../errors/index.ts';
import type { ServiceDeps } from '../build-app.ts';
import { refuseCursor } from '../cursor.ts';

const Role = Type.Union(roles.map((r) => Type.Literal(r)));

export const TokenSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  role: Role,
  createdBy: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]*$' }),
    role: Role,
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

export const tokenRoutes: FastifyPluginAsync<ServiceDeps<'audit' | 'tokens'>> = async (app, { audit, tokens, audited }) => {
  app.post(
    '/tokens',
    {
      config: { auth: { role: 'admin', action: 'token.create', target: 'token' } },
      schema: {
        tags: ['tokens'],
        summary: 'Create an API token; its secret is in this response only',
        body: CreateBody,
        response: { 201: Type.Object({ token: TokenSchema, secret: Type.String() }) },
      },
    },
    async (request, reply) => {
      const body = request.body as { name: string; role: (typeof roles)[number]; expiresAt?: string };
      const created = await audited(request, async (trx) => {
        const made = await tokens.create(
          { name: body.name, role: body.role, createdBy: request.principal.actor, expiresAt: body.expiresAt ? new Date(body.expiresAt) : null },
          trx,
        );
        return { result: made, targetId: made.token.id, details: { name: body.name, role: body.role, expiresAt: body.expiresAt ?? null } };
      });
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/tokens',
    {
      config: { auth: { role: 'admin' } },
      preValidation: refuseCursor,
      schema: { tags: ['tokens'], summary: 'List API tokens (never their secrets)', response: { 200: Type.Object({ items: Type.Array(TokenSchema) }) } },
    },
    async () => ({ items: await tokens.list() }),
  );

  app.delete(
    '/tokens/:id',
    {
      config: { auth: { role: 'admin', action: 'token.revoke', target: 'token' } },
      schema: {
        tags: ['tokens'],
        summary: 'Revoke a token (by id or name); the last active admin token cannot be revoked (409)',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }),
        response: { 200: TokenSchema },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      try {
        return await audited(request, async (trx) => {
          const token = await tokens.revoke(id, trx);
          return { result: token, targetId: token.id, details: { name: token.name, revokedAt: { old: null, new: token.revokedAt } } };
        });
      } catch (err) {
        // Refusing to lock every admin out is a denial, audited as one.
        if (isSproutError(err, 'SPROUT_ERR_CONFLICT') && err.context.lastAdminToken) {
          await audit.record({
            actor: request.principal.actor,
            actorRole: request.principal.role,
            action: 'token.revoke',
            targetType: 'token',
            targetId: String(err.context.lastAdminToken),
            requestId: String(request.id),
            sourceAddress: request.ip,
            outcome: 'denied',
            details: { status: 409, reason: err.message },
          });
          request.audited = true;
        }
        throw err;
      }
    },
  );
};
