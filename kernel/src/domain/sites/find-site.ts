/** Looks a site up by id or name; an unknown one is a 404 naming what was asked for. */
import type { Knex } from 'knex';
import { SproutError } from '../../errors/index.ts';

export interface SiteRow {
  id: string;
  name: string;
  description: string;
  labels: Record<string, string>;
  created_at: Date;
  updated_at: Date;
  desired_revision?: number | string;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return uuid.test(value);
}

export async function findSite(db: Knex | Knex.Transaction, idOrName: string, options: { forUpdate?: boolean } = {}): Promise<SiteRow> {
  const q = db<SiteRow>('sites')
    .where(isUuid(idOrName) ? { id: idOrName } : { name: idOrName })
    .first();
  if (options.forUpdate) q.forUpdate();
  const site = await q;
  if (!site)
    throw new SproutError('SPROUT_ERR_NOT_FOUND', `no site "${idOrName}"`, { details: [{ field: 'site', message: `no site with id or name "${idOrName}"` }] });
  return site;
}
