/**
 * Where a deploy's image comes from. A URL is used as given, with the sum the operator
 * passed (if any). A bare name is an image this agent serves from `<artifactRoot>/images/`,
 * and the agent fills in its URL, size and sha256 — unless the operator gave a sum, which
 * then is the one the installer must find.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { matchImageName } from '@sprout/kernel/sdk';
import { resolveInside, sha256Of } from './artifacts.ts';

export interface ImageSource {
  url: string;
  sha256: string | null;
  size: number | null;
}

export type ResolvedImage = { image: ImageSource } | { missing: string } | { image: null };

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

export async function resolveImage(params: Record<string, unknown>, artifactRoot: string, baseUrl: string): Promise<ResolvedImage> {
  if (typeof params.image !== 'string' || !params.image) return { image: null };
  const expected = typeof params.imageSha256 === 'string' ? params.imageSha256.toLowerCase() : null;
  if (URL_SCHEME.test(params.image)) return { image: { url: params.image, sha256: expected, size: null } };
  const relative = `images/${storeFileOf(artifactRoot, params.image)}`;
  const path = resolveInside(artifactRoot, relative);
  const stat = path ? statSync(path) : undefined;
  if (!path || !stat?.isFile())
    return { missing: `image ${params.image} is not among this agent's artifacts: put it at ${artifactRoot}/${relative}, or deploy a URL` };
  const sha256 = expected ?? (await sha256Of(path, stat.size, stat.mtimeMs));
  return { image: { url: `${baseUrl}/artifacts/${relative.split('/').map(encodeURIComponent).join('/')}`, sha256, size: stat.size } };
}

/** The store's file for a name: the control plane resolves short names at request time; a deploy queued before that (or by an older control plane) is resolved the same way here. */
function storeFileOf(artifactRoot: string, image: string): string {
  let names: string[];
  try {
    names = readdirSync(join(artifactRoot, 'images'));
  } catch {
    return image;
  }
  const matches = matchImageName(
    image,
    names.filter((n) => !n.endsWith('.manifest.json')),
  );
  return matches.length === 1 ? matches[0]! : image;
}
