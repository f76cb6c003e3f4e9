/**
 * The sites' image stores under /v1: list what each site's agent holds (viewer), import an
 * image into a site's store from a URL its agent can reach or a path on its agent's host,
 * and remove one (operator, audited). Imports and removals answer 202 with a request the
 * agent settles; `GET /v1/sites/{id}/image-requests/{request}` tells how it went.
 */
import { basename } from 'node:path';
import Type from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { ServiceDeps } from '../../api/build-app.ts';
import { refuseCursor } from '../../api/cursor.ts';
import { SproutError } from '../../errors/index.ts';
import { findSite } from './find-site.ts';
import { imageNamePattern, isImageUrl } from './site-images.ts';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const Sha256 = Type.String({ pattern: '^[0-9a-fA-F]{64}$' });

const SiteImageSchema = Type.Object({
  name: Type.String(),
  site: Type.String(),
  size: Type.Integer({ description: 'Bytes' }),
  sha256: Nullable(Type.String({ description: 'null while the agent computes it' })),
  format: Nullable(Type.String({ description: 'raw, qcow2, gzip, xz, zstd, as the agent read it from the file or its manifest' })),
  seenAt: Type.String({ format: 'date-time', description: 'When the agent last reported it' }),
  changedAt: Type.String({ format: 'date-time' }),
});

const ImageRequestSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  site: Type.String(),
  action: Type.Union([Type.Literal('import'), Type.Literal('remove')]),
  name: Type.String(),
  source: Type.Union([
    Type.Object({ url: Type.Optional(Type.String()), path: Type.Optional(Type.String()), sha256: Type.Optional(Type.String()) }),
    Type.Null(),
  ]),
  state: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
  result: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  error: Nullable(Type.String()),
  requestedBy: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  finishedAt: Nullable(Type.String({ format: 'date-time' })),
});

const SiteParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'Site id or name' }) });

export const imageRoutes: FastifyPluginAsync<ServiceDeps<'db' | 'images'>> = async (app, { db, images, audited }) => {
  app.get(
    '/images',
    {
      config: { auth: { role: 'viewer' } },
      preValidation: refuseCursor,
      schema: {
        tags: ['images'],
        summary: "The images each site's agent holds in its artifact store (images/ under its artifactRoot)",
        querystring: Type.Object({ site: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(SiteImageSchema) }) },
      },
    },
    async (request) => {
      const site = (request.query as { site?: string }).site;
      return { items: await images.list(site ? (await findSite(db, site)).id : undefined) };
    },
  );

  app.get(
    '/sites/:id/images',
    {
      config: { auth: { role: 'viewer' } },
      preValidation: refuseCursor,
      schema: {
        tags: ['images'],
        summary: "The images the site's agent holds; reportedAt null: it never reported any",
        params: SiteParams,
        response: { 200: Type.Object({ items: Type.Array(SiteImageSchema), reportedAt: Nullable(Type.String({ format: 'date-time' })) }) },
      },
    },
    async (request) => {
      const site = await findSite(db, (request.params as { id: string }).id);
      const row = await db('sites').where({ id: site.id }).first('images_reported_at');
      return { items: await images.list(site.id), reportedAt: row?.images_reported_at ? new Date(row.images_reported_at).toISOString() : null };
    },
  );

  app.post(
    '/sites/:id/images',
    {
      config: { auth: { role: 'operator', action: 'image.import', target: 'site' } },
      schema: {
        tags: ['images'],
        summary:
          "Import an image into the site's store: the agent downloads the URL (or copies the path on its own host), checks the sha256 and puts it in place atomically",
        params: SiteParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ pattern: imageNamePattern, description: 'The name to deploy it by; default: the last part of the URL or path' })),
            url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, pattern: '^https?://\\S+$', description: 'Where the agent downloads it from' })),
            path: Type.Optional(Type.String({ minLength: 2, maxLength: 4096, pattern: '^/', description: "An absolute path on the agent's host to copy" })),
            sha256: { ...Sha256, description: 'What the agent must find: it refuses any other content (`sprout image import FILE` computes it from the file)' },
          },
          { additionalProperties: false },
        ),
        response: { 202: ImageRequestSchema },
      },
    },
    async (request, reply) => {
      const body = request.body as { name?: string; url?: string; path?: string; sha256: string };
      if ((body.url === undefined) === (body.path === undefined)) {
        throw new SproutError('SPROUT_ERR_VALIDATION', 'give the image as exactly one of url (the agent downloads it) or path (a file on the agent host)', {
          details: [{ field: 'body/url', message: 'one of url or path is required' }],
        });
      }
      const name = body.name ?? basename(new URL(body.url ?? `file://${body.path}`).pathname);
      if (!new RegExp(imageNamePattern).test(name)) {
        throw new SproutError('SPROUT_ERR_VALIDATION', `"${name}" cannot name an image: give a name of letters, digits, . _ + - (not starting with a dot)`, {
          details: [{ field: 'body/name', message: `"${name}" is not an image name` }],
        });
      }
      if (isImageUrl(name))
        throw new SproutError('SPROUT_ERR_VALIDATION', 'an image name is not a URL', { details: [{ field: 'body/name', message: 'is a URL' }] });
      const site = await findSite(db, (request.params as { id: string }).id);
      const id = await audited(request, async (trx) => ({
        result: await images.queueImport(trx, site.id, { ...body, name }, request.principal.actor),
        targetId: site.id,
        details: { site: site.name, name, ...(body.url ? { url: body.url } : { path: body.path }), sha256: body.sha256.toLowerCase() },
      }));
      return reply.status(202).send(await images.request(site.id, id));
    },
  );

  app.delete(
    '/sites/:id/images/:name',
    {
      config: { auth: { role: 'operator', action: 'image.remove', target: 'site' } },
      schema: {
        tags: ['images'],
        summary: "Remove an image from the site's store (409 while a running deploy uses it)",
        params: Type.Object({ id: SiteParams.properties.id, name: Type.String({ pattern: imageNamePattern }) }),
        response: { 202: ImageRequestSchema },
      },
    },
    async (request, reply) => {
      const params = request.params as { id: string; name: string };
      const site = await findSite(db, params.id);
      const id = await audited(request, async (trx) => ({
        result: await images.queueRemove(trx, site.id, params.name, request.principal.actor),
        targetId: site.id,
        details: { site: site.name, name: params.name },
      }));
      return reply.status(202).send(await images.request(site.id, id));
    },
  );

  app.get(
    '/sites/:id/image-requests/:request',
    {
      config: { auth: { role: 'viewer' } },
      schema: {
        tags: ['images'],
        summary: 'An image import or removal: pending until the agent settles it',
        params: Type.Object({ id: SiteParams.properties.id, request: Type.String({ maxLength: 64 }) }),
        response: { 200: ImageRequestSchema },
      },
    },
    async (request) => {
      const params = request.params as { id: string; request: string };
      const site = await findSite(db, params.id);
      return images.request(site.id, params.request);
    },
  );
};
