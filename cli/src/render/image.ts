/** How the CLI shows a site's images and an image request. */
import { table, type ApiPaths } from '@sprout/kernel/cli';
import { ago } from './machine.ts';

/** An image of a site's store, as `GET /v1/images` lists it. */
export type SiteImage = ApiPaths['/v1/images']['get']['responses'][200]['content']['application/json']['items'][number];
/** An image import or removal, as `GET /v1/sites/{id}/image-requests/{request}` answers it. */
export type ImageRequest = ApiPaths['/v1/sites/{id}/image-requests/{request}']['get']['responses'][200]['content']['application/json'];
/** What the agent reports in a settled request's `result` (a free-form record in the API). */
interface RequestResult {
  size?: number;
  sha256?: string;
  format?: string;
  replaced?: boolean;
  removed?: boolean;
}

/** 8388608 → "8.0 MiB". */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) (value /= 1024), unit++;
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function imageTable(images: SiteImage[]): string {
  if (images.length === 0) return 'no images';
  return table(
    ['NAME', 'SITE', 'SIZE', 'SHA256', 'FORMAT', 'SEEN'],
    images.map((i) => [i.name, i.site, bytes(i.size), i.sha256 ? i.sha256.slice(0, 12) : '(computing)', i.format ?? '-', ago(i.seenAt)]),
  );
}

/** The line an import or removal ends with. */
export function requestLine(r: ImageRequest): string {
  if (r.state === 'pending') return `${r.action} of ${r.name} at site ${r.site} is pending (request ${r.id})`;
  if (r.state === 'failed') return `${r.action} of ${r.name} at site ${r.site} failed: ${r.error}`;
  const result = r.result as RequestResult | null;
  if (r.action === 'remove')
    return result?.removed === false ? `${r.name} was no longer in the store of site ${r.site}` : `removed ${r.name} from site ${r.site}`;
  const { size, sha256, format, replaced } = result ?? {};
  return `imported ${r.name} into site ${r.site}${replaced ? ' (replacing the image of that name)' : ''}: ${size === undefined ? '?' : bytes(size)}, sha256 ${sha256}, ${format}`;
}
