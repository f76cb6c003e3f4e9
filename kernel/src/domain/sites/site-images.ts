/**
 * Each site's image store, on the control plane's side. The site's agent lists the images
 * in its `<artifactRoot>/images/` in every heartbeat; `record` makes the site's rows that
 * list (so a file copied there by hand, or deleted, shows within a heartbeat). A deploy by
 * name is checked against these rows when it is asked for, not when the machine boots.
 * Imports and removals are `image_requests`, carried to the agent as `image-import` /
 * `image-remove` work items and settled by its task report (like power requests): the
 * control plane never moves image bytes itself.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { SproutError } from '../../errors/index.ts';
import { outboxIdOf, outboxRowId } from '../workflows/outbox-dispatcher.ts';
import { imageNamePattern, isImageUrl, matchImageName, type ReportedImage } from './image-names.ts';

export { imageNamePattern, isImageUrl, matchImageName, type ReportedImage };

export interface SiteImageView extends ReportedImage {
  site: string;
  seenAt: string;
  changedAt: string;
}

export interface ImageRequestView {
  id: string;
  site: string;
  action: 'import' | 'remove';
  name: string;
  source: { url?: string; path?: string; sha256?: string } | null;
  state: 'pending' | 'succeeded' | 'failed';
  result: Record<string, unknown> | null;
  error: string | null;
  requestedBy: string;
  createdAt: string;
  finishedAt: string | null;
}

const imageName = new RegExp(imageNamePattern);
/** The formats the installer streams to a disk (agent/installer/image.sh); others are refused when a deploy asks for them. */
const installerFormats = ['raw', 'gzip', 'xz', 'bzip2'];

const iso = (v: unknown): string => new Date(v as string).toISOString();
const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);

export class SiteImages {
  constructor(private readonly deps: { db: Knex; afterDispatch: () => void }) {}

  /** A heartbeat's list becomes the site's rows: new and changed images upserted, missing ones dropped. */
  async record(siteId: string, images: ReportedImage[]): Promise<void> {
    const valid = images.filter((i) => imageName.test(i.name));
    await this.deps.db.transaction(async (trx) => {
      const known = new Map((await trx('site_images').where({ site_id: siteId }).select('name', 'size', 'sha256', 'format')).map((r) => [r.name as string, r]));
      const gone = [...known.keys()].filter((name) => !valid.some((i) => i.name === name));
      if (gone.length) await trx('site_images').where({ site_id: siteId }).whereIn('name', gone).delete();
      for (const image of valid) {
        const row = known.get(image.name);
        if (row && Number(row.size) === image.size && row.sha256 === image.sha256 && row.format === image.format) continue;
        await trx('site_images')
          .insert({ site_id: siteId, name: image.name, size: image.size, sha256: image.sha256, format: image.format })
          .onConflict(['site_id', 'name'])
          .merge({ size: image.size, sha256: image.sha256, format: image.format, changed_at: trx.fn.now() });
      }
      await trx('site_images').where({ site_id: siteId }).update({ seen_at: trx.fn.now() });
      await trx('sites').where({ id: siteId }).update({ images_reported_at: trx.fn.now() });
    });
  }

  async list(siteId?: string): Promise<SiteImageView[]> {
    const q = this.deps
      .db('site_images')
      .join('sites', 'sites.id', 'site_images.site_id')
      .orderBy([{ column: 'sites.name' }, { column: 'site_images.name' }])
      .select('site_images.*', 'sites.name as site');
    if (siteId) q.where('site_images.site_id', siteId);
    return (await q).map((r) => ({
      name: r.name,
      site: r.site,
      size: Number(r.size),
      sha256: r.sha256 ?? null,
      format: r.format ?? null,
      seenAt: iso(r.seen_at),
      changedAt: iso(r.changed_at),
    }));
  }

  /**
   * Refuses (409) a deploy by name of an image the machine's site does not hold, naming
   * the image, the site and what it has; a site that never reported its images cannot be
   * checked, and is refused too. A URL is not checked: the installer fetches it.
   */
  async requireForDeploy(db: Knex | Knex.Transaction, siteId: string, image: string): Promise<string> {
    if (isImageUrl(image)) return image;
    const site = await db('sites').where({ id: siteId }).first('name', 'images_reported_at');
    const context = { image, site: site.name };
    if (!site.images_reported_at) {
      throw new SproutError(
        'SPROUT_ERR_CONFLICT',
        `site ${site.name} has reported no images yet: is its agent online (with services.http.artifactRoot)? Deploy an image URL, or start the site's agent`,
        {
          details: [{ field: 'image', message: `site ${site.name} has reported no images` }],
          context,
        },
      );
    }
    const rows = await db('site_images').where({ site_id: siteId }).orderBy('name').select('name', 'format');
    const names = rows.map((r) => r.name as string);
    const matches = matchImageName(image, names);
    if (matches.length === 0) {
      throw new SproutError(
        'SPROUT_ERR_CONFLICT',
        `image ${image} is not in the image store of site ${site.name}; it has: ${names.join(', ') || 'no images'} (add one with \`sprout image import --site ${site.name}\`)`,
        {
          details: [{ field: 'image', message: `site ${site.name} has no image ${image}` }],
          context: { ...context, available: names },
        },
      );
    }
    if (matches.length > 1) {
      throw new SproutError('SPROUT_ERR_CONFLICT', `image ${image} is ambiguous at site ${site.name}: it could be ${matches.join(' or ')}; name the file`, {
        details: [{ field: 'image', message: `${image} matches ${matches.join(', ')}` }],
        context: { ...context, candidates: matches },
      });
    }
    const [file] = matches as [string];
    const format = rows.find((r) => r.name === file)?.format as string | null;
    if (format && !installerFormats.includes(format)) {
      throw new SproutError(
        'SPROUT_ERR_CONFLICT',
        `image ${file} at site ${site.name} is ${format}, which the installer cannot write to a disk; store it raw (or gzip/xz-compressed raw)${format === 'qcow2' ? `: qemu-img convert -O raw ${file} ${file.replace(/\.qcow2$/, '')}.raw` : ''}`,
        {
          details: [{ field: 'image', message: `${file} is ${format}` }],
          context: { ...context, format },
        },
      );
    }
    const removing = await db('image_requests').where({ site_id: siteId, name: file, action: 'remove', state: 'pending' }).first('id');
    if (removing) throw new SproutError('SPROUT_ERR_CONFLICT', `image ${file} is being removed from site ${site.name} (request ${removing.id})`, { context });
    return file;
  }

  /** Queues an import for the site's agent: from a URL it can reach, or a path on its host; returns the request. */
  async queueImport(
    trx: Knex.Transaction,
    siteId: string,
    input: { name: string; url?: string; path?: string; sha256: string },
    actor: string,
  ): Promise<string> {
    await this.requireAgent(trx, siteId);
    const pending = await trx('image_requests').where({ site_id: siteId, name: input.name, state: 'pending' }).first('id', 'action');
    if (pending)
      throw new SproutError('SPROUT_ERR_CONFLICT', `image ${input.name} already has a pending ${pending.action} (request ${pending.id}); wait for it`, {
        context: { request: pending.id },
      });
    const source = { ...(input.url ? { url: input.url } : {}), ...(input.path ? { path: input.path } : {}), sha256: input.sha256.toLowerCase() };
    return this.queue(trx, siteId, 'import', input.name, source, actor);
  }

  /** Queues a removal; refused while a deploy that has not finished uses the image, or when the site does not hold it. */
  async queueRemove(trx: Knex.Transaction, siteId: string, name: string, actor: string): Promise<string> {
    const site = await trx('sites').where({ id: siteId }).first('name');
    if (!(await trx('site_images').where({ site_id: siteId, name }).first('name'))) {
      throw new SproutError('SPROUT_ERR_NOT_FOUND', `site ${site.name} has no image ${name}`, {
        details: [{ field: 'name', message: `no image ${name} at site ${site.name}` }],
      });
    }
    const deploys = await trx('workflows')
      .leftJoin('machines', 'machines.id', 'workflows.machine_id')
      .where({ 'workflows.site_id': siteId, 'workflows.kind': 'deploy' })
      .whereNull('workflows.finished_at')
      .whereRaw(`workflows.params->>'image' = ?`, [name])
      .select('workflows.id', 'machines.hostname');
    if (deploys.length) {
      throw new SproutError(
        'SPROUT_ERR_CONFLICT',
        `image ${name} is in use at site ${site.name} by the running deploy of ${deploys.map((d) => `${d.hostname} (workflow ${d.id})`).join(', ')}; remove it when they have finished`,
        {
          context: { workflows: deploys.map((d) => d.id) },
        },
      );
    }
    await this.requireAgent(trx, siteId);
    const pending = await trx('image_requests').where({ site_id: siteId, name, state: 'pending' }).first('id', 'action');
    if (pending)
      throw new SproutError('SPROUT_ERR_CONFLICT', `image ${name} already has a pending ${pending.action} (request ${pending.id}); wait for it`, {
        context: { request: pending.id },
      });
    return this.queue(trx, siteId, 'remove', name, null, actor);
  }

  private async queue(
    trx: Knex.Transaction,
    siteId: string,
    action: 'import' | 'remove',
    name: string,
    source: Record<string, string> | null,
    actor: string,
  ): Promise<string> {
    const id = randomUUID();
    const [outbox] = await trx('outbox')
      .insert({ site_id: siteId, kind: `image-${action}`, payload: JSON.stringify({ request: id, name, ...source }) })
      .returning('id');
    await trx('image_requests').insert({
      id,
      site_id: siteId,
      action,
      name,
      source: source ? JSON.stringify(source) : null,
      requested_by: actor,
      outbox_id: outboxRowId(outbox),
    });
    trx.executionPromise.then(
      () => this.deps.afterDispatch(),
      () => undefined,
    );
    return id;
  }

  private async requireAgent(db: Knex | Knex.Transaction, siteId: string): Promise<void> {
    if (await db('agents').where({ site_id: siteId }).first('id')) return;
    const site = await db('sites').where({ id: siteId }).first('name');
    throw new SproutError('SPROUT_ERR_CONFLICT', `site ${site?.name ?? siteId} has no agent to keep its images; start one there (sprout agent run) first`);
  }

  async request(siteId: string, id: string): Promise<ImageRequestView> {
    const row = /^[0-9a-f-]{36}$/i.test(id)
      ? await this.deps
          .db('image_requests')
          .join('sites', 'sites.id', 'image_requests.site_id')
          .where({ 'image_requests.id': id, site_id: siteId })
          .first('image_requests.*', 'sites.name as site')
      : undefined;
    if (!row) throw new SproutError('SPROUT_ERR_NOT_FOUND', `no image request ${id} at this site`);
    return {
      id: row.id,
      site: row.site,
      action: row.action,
      name: row.name,
      source: json(row.source) ?? null,
      state: row.state,
      result: json(row.result) ?? null,
      error: row.error ?? null,
      requestedBy: row.requested_by,
      createdAt: iso(row.created_at),
      finishedAt: row.finished_at ? iso(row.finished_at) : null,
    };
  }

  /**
   * Settles the image request a work item carried (false for other work items). A finished
   * import's image is in the site's rows at once, a removed one gone, without waiting for
   * the next heartbeat. Runs inside the report's transaction.
   */
  async settle(
    db: Knex | Knex.Transaction,
    workItemId: string | null | undefined,
    outcome: { ok: true; result: Record<string, unknown> } | { ok: false; error: string },
  ): Promise<boolean> {
    const outboxId = workItemId ? outboxIdOf(workItemId) : null;
    if (outboxId === null) return false;
    const request = await db('image_requests').where({ outbox_id: outboxId }).first();
    if (!request) return false;
    if (request.state !== 'pending') return true;
    await db('image_requests')
      .where({ id: request.id, state: 'pending' })
      .update({
        state: outcome.ok ? 'succeeded' : 'failed',
        result: outcome.ok ? JSON.stringify(outcome.result) : null,
        error: outcome.ok ? null : outcome.error,
        finished_at: db.fn.now(),
      });
    if (!outcome.ok) return true;
    if (request.action === 'remove') await db('site_images').where({ site_id: request.site_id, name: request.name }).delete();
    const r = outcome.result;
    if (request.action === 'import' && typeof r.size === 'number' && typeof r.sha256 === 'string') {
      const row = { size: r.size, sha256: r.sha256, format: typeof r.format === 'string' ? r.format : null };
      await db('site_images')
        .insert({ site_id: request.site_id, name: request.name, ...row })
        .onConflict(['site_id', 'name'])
        .merge({ ...row, changed_at: db.fn.now(), seen_at: db.fn.now() });
    }
    return true;
  }

  /** An image work item the transport gave up on: its request fails with that reason. */
  async givenUp(workItemId: string, reason: string): Promise<boolean> {
    return this.deps.db.transaction((trx) =>
      this.settle(trx, workItemId, { ok: false, error: `the site's agent never completed the image request: ${reason}` }),
    );
  }
}
